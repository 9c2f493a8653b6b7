from ltv.dbt_entrypoints import sentiment_evaluation_runs


def model(dbt, session):
    dbt.config(materialized="table")
    return sentiment_evaluation_runs(
        session,
        texts=dbt.ref("int_texts_masked").project("text_source, source_id, text_hash, rating"),
        scores_v1=dbt.ref("ml_text_sentiment", v=1).project("text_source, text_hash, polarity, not_scored_reason"),
        settings_frame=dbt.ref("int_model_settings").df(),
        conversations=dbt.ref("stg_shop__support_conversations").project("conversation_id, satisfaction_rating"),
    )
