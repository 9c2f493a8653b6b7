from ltv.dbt_entrypoints import recommendation_tuning


def model(dbt, session):
    dbt.config(materialized="table")
    return recommendation_tuning(
        session,
        interactions=dbt.ref("int_user_item_interactions_aggregated").project(
            "user_id, item_id, purchases_before_cutoff, returned_before_cutoff, cancelled_before_cutoff, "
            "rating_before_cutoff, purchases_before_validation_cutoff, returned_before_validation_cutoff, "
            "cancelled_before_validation_cutoff, rating_before_validation_cutoff"),
        settings_frame=dbt.ref("int_model_settings").df(),
        this=f"{dbt.this.schema}.{dbt.this.identifier}",
    )
