from ltv.dbt_entrypoints import conversation_experience


def model(dbt, session):
    dbt.config(materialized="table")
    return conversation_experience(
        session,
        conversations=dbt.ref("stg_shop__support_conversations").df(),
        texts=dbt.ref("int_texts_masked").df(),
        sentiment_scores=dbt.ref("ml_text_sentiment", v=1).df(),
        settings_frame=dbt.ref("int_model_settings").df(),
        version=1,
    )
