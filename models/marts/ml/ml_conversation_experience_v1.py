from ltv.dbt_entrypoints import conversation_experience


def model(dbt, session):
    dbt.config(materialized="table")
    return conversation_experience(
        session,
        conversations=dbt.ref("stg_shop__support_conversations"),
        texts=dbt.ref("int_texts_masked"),
        sentiment_scores=dbt.ref("ml_text_sentiment", v=1),
        settings_frame=dbt.ref("int_model_settings"),
        version=1,
    )
