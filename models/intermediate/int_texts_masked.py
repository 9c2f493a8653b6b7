from ltv.dbt_entrypoints import texts_masked


def model(dbt, session):
    dbt.config(materialized="table", tags=["python_ml"])
    return texts_masked(
        session,
        reviews=dbt.ref("stg_shop__reviews"),
        conversations=dbt.ref("stg_shop__support_conversations"),
        settings_frame=dbt.ref("int_model_settings"),
        this=f"{dbt.this.schema}.{dbt.this.identifier}",
    )
