from ltv.dbt_entrypoints import texts_masked


def model(dbt, session):
    dbt.config(materialized="table", tags=["python_ml"])
    return texts_masked(
        reviews=dbt.ref("stg_shop__reviews").df(),
        conversations=dbt.ref("stg_shop__support_conversations").df(),
        settings_frame=dbt.ref("int_model_settings").df(),
    )
