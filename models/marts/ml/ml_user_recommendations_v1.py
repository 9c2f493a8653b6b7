from ltv.dbt_entrypoints import user_recommendations


def model(dbt, session):
    dbt.config(materialized="table")
    return user_recommendations(
        session,
        interactions=dbt.ref("int_user_item_interactions_aggregated"),
        similarities=dbt.ref("ml_item_similarities", v=1),
        users=dbt.ref("stg_shop__users"),
        settings_frame=dbt.ref("int_model_settings"),
    )
