from ltv.dbt_entrypoints import sentiment_evaluation_runs


def model(dbt, session):
    dbt.config(materialized="table")
    return sentiment_evaluation_runs(
        session,
        texts=dbt.ref("int_texts_masked").df(),
        scores_v1=dbt.ref("ml_text_sentiment", v=1).df(),
        settings_frame=dbt.ref("int_model_settings").df(),
    )
