from ltv.dbt_entrypoints import text_sentiment


def model(dbt, session):
    dbt.config(materialized="incremental", unique_key=["text_source", "text_hash"], incremental_strategy="delete+insert",
               on_schema_change="sync_all_columns")
    return text_sentiment(
        session,
        texts=dbt.ref("int_texts_masked"),
        settings_frame=dbt.ref("int_model_settings"),
        version=2,
        previous_relation=str(dbt.this) if dbt.is_incremental else None,
        conversations=dbt.ref("stg_shop__support_conversations"),
    )
