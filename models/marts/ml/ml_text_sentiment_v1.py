from ltv.dbt_entrypoints import text_sentiment


def model(dbt, session):
    # Incremental on DuckDB, a table on Spark: configured in _ml__models.yml, where the target is known.
    return text_sentiment(
        session,
        texts=dbt.ref("int_texts_masked"),
        settings_frame=dbt.ref("int_model_settings"),
        version=1,
        previous_relation=str(dbt.this) if dbt.is_incremental else None,
    )
