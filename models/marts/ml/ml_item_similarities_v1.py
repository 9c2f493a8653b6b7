from ltv.dbt_entrypoints import item_similarity


def model(dbt, session):
    dbt.config(materialized="table")
    return item_similarity(
        session,
        interactions=dbt.ref("int_user_item_interactions_aggregated"),
        items=dbt.ref("stg_shop__items"),
        settings_frame=dbt.ref("int_model_settings"),
        version=1,
    )
