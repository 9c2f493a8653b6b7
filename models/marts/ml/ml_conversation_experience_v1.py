from ltv.dbt_entrypoints import conversation_experience


def model(dbt, session):
    dbt.config(materialized="table")
    return conversation_experience(
        session,
        conversations=dbt.ref("stg_shop__support_conversations").project(
            "conversation_id, user_id, response_hours, satisfaction_rating"),
        texts=dbt.ref("int_texts_masked").project("text_source, source_id, text_hash"),
        sentiment_scores=dbt.ref("ml_text_sentiment", v=1).project("text_source, text_hash, polarity"),
        settings_frame=dbt.ref("int_model_settings").df(),
        version=1,
    )
