from ltv.dbt_entrypoints import user_recommendations


def model(dbt, session):
    dbt.config(materialized="table")
    return user_recommendations(
        interactions=dbt.ref("int_user_item_interactions_aggregated").df(),
        similarities=dbt.ref("ml_item_similarities").df(),
        users=dbt.ref("stg_shop__users").df(),
        settings_frame=dbt.ref("int_model_settings").df(),
    )
