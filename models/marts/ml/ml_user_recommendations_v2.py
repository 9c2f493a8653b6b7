from ltv.dbt_entrypoints import user_recommendations


def model(dbt, session):
    dbt.config(materialized="table")
    return user_recommendations(
        session,
        interactions=dbt.ref("int_user_item_interactions_aggregated").project(
            "user_id, item_id, interaction_weight, purchases_total, returned_total, cancelled_total"),
        similarities=dbt.ref("ml_item_similarities", v=2).project("item_id, similar_item_id, similarity, model_version"),
        users=dbt.ref("stg_shop__users").project("user_id"),
        settings_frame=dbt.ref("int_model_settings").df(),
    )
