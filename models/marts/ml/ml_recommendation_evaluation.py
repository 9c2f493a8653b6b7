from ltv.dbt_entrypoints import recommendation_evaluation


def model(dbt, session):
    dbt.config(materialized="table")
    return recommendation_evaluation(
        session,
        interactions=dbt.ref("int_user_item_interactions_aggregated").df(),
        items=dbt.ref("stg_shop__items").df(),
        content_similarities=dbt.ref("ml_item_content_similarities").df(),
        settings_frame=dbt.ref("int_model_settings").df(),
    )
