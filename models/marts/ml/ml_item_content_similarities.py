from ltv.dbt_entrypoints import content_similarity


def model(dbt, session):
    dbt.config(materialized="table")
    return content_similarity(
        items=dbt.ref("stg_shop__items").df(),
        settings_frame=dbt.ref("int_model_settings").df(),
    )
