from ltv.dbt_entrypoints import recommendation_tuning


def model(dbt, session):
    dbt.config(materialized="table")
    return recommendation_tuning(
        session,
        interactions=dbt.ref("int_user_item_interactions_aggregated"),
        settings_frame=dbt.ref("int_model_settings"),
        this=f"{dbt.this.schema}.{dbt.this.identifier}",
    )
