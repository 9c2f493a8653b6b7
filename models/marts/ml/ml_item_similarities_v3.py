from ltv.dbt_entrypoints import item_similarity_v3


def model(dbt, session):
    dbt.config(materialized="table")
    return item_similarity_v3(
        session,
        interactions=dbt.ref("int_user_item_interactions_aggregated"),
        items=dbt.ref("stg_shop__items"),
        tuning=dbt.ref("ml_recommendation_tuning"),
        settings_frame=dbt.ref("int_model_settings"),
        # var ltv_spark_recommendation_sample_users, through the config in _ml__models.yml (read on Spark only).
        sample_users=dbt.config.get("spark_sample_users"),
    )
