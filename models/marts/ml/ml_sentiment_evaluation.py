from ltv.dbt_entrypoints import sentiment_evaluation_runs


def model(dbt, session):
    dbt.config(materialized="table")
    return sentiment_evaluation_runs(
        session,
        texts=dbt.ref("int_texts_masked"),
        scores_v1=dbt.ref("ml_text_sentiment", v=1),
        settings_frame=dbt.ref("int_model_settings"),
        conversations=dbt.ref("stg_shop__support_conversations"),
    )
