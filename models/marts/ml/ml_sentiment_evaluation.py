from ltv.dbt_entrypoints import sentiment_evaluation_runs


def model(dbt, session):
    dbt.config(materialized="table")
    return sentiment_evaluation_runs(
        session,
        texts=dbt.ref("int_texts_masked").filter("text_source = 'review'").project("text_source, text_hash, rating").df(),
        scores_v1=dbt.ref("ml_text_sentiment", v=1).project("text_hash, polarity").df(),
        settings_frame=dbt.ref("int_model_settings").df(),
    )
