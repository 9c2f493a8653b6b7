from ltv.dbt_entrypoints import item_similarity_v3


def model(dbt, session):
    dbt.config(materialized="table")
    return item_similarity_v3(
        session,
        interactions=dbt.ref("int_user_item_interactions_aggregated"),
        items=dbt.ref("stg_shop__items"),
        tuning=dbt.ref("ml_recommendation_tuning"),
        settings_frame=dbt.ref("int_model_settings"),
    )
