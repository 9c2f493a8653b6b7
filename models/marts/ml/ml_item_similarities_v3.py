from ltv.dbt_entrypoints import item_similarity_v3


def model(dbt, session):
    dbt.config(materialized="table")
    return item_similarity_v3(
        session,
        interactions=dbt.ref("int_user_item_interactions_aggregated").project(
            "user_id, item_id, purchases_total, returned_total, cancelled_total, rating_latest"),
        items=dbt.ref("stg_shop__items").project("item_id"),
        tuning=dbt.ref("ml_recommendation_tuning"),
        settings_frame=dbt.ref("int_model_settings").df(),
    )
