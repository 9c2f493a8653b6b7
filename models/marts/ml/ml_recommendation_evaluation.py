from ltv.dbt_entrypoints import recommendation_evaluation


def model(dbt, session):
    dbt.config(materialized="table")
    return recommendation_evaluation(
        session,
        interactions=dbt.ref("int_user_item_interactions_aggregated").project(
            "user_id, item_id, interaction_weight_before_cutoff, purchases_before_cutoff, purchases_after_cutoff, "
            "returned_before_cutoff, cancelled_before_cutoff, rating_before_cutoff"),
        items=dbt.ref("stg_shop__items"),
        content_similarities=dbt.ref("ml_item_content_similarities").project("item_id, similar_item_id, similarity"),
        tuning=dbt.ref("ml_recommendation_tuning"),
        settings_frame=dbt.ref("int_model_settings").df(),
        this=f"{dbt.this.schema}.{dbt.this.identifier}",
    )
