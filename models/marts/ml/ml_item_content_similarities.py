from ltv.dbt_entrypoints import content_similarity


def model(dbt, session):
    dbt.config(materialized="table")
    return content_similarity(
        session,
        items=dbt.ref("stg_shop__items"),
        settings_frame=dbt.ref("int_model_settings"),
        this=f"{dbt.this.schema}.{dbt.this.identifier}",
    )
