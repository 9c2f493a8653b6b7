from ltv.dbt_entrypoints import sentiment_evaluation_runs


def model(dbt, session):
    dbt.config(materialized="table")
    return sentiment_evaluation_runs(
        session,
        texts=dbt.ref("int_texts_masked").project("text_source, source_id, text_hash, rating"),
        scores_v1=dbt.ref("ml_text_sentiment", v=1).project("text_hash, polarity"),
        settings_frame=dbt.ref("int_model_settings").df(),
    )
