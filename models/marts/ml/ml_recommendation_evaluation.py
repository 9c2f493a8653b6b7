from ltv.dbt_entrypoints import recommendation_evaluation


def model(dbt, session):
    dbt.config(materialized="table")
    return recommendation_evaluation(
        session,
        interactions=dbt.ref("int_user_item_interactions_aggregated"),
        items=dbt.ref("stg_shop__items"),
        content_similarities=dbt.ref("ml_item_content_similarities"),
        tuning=dbt.ref("ml_recommendation_tuning"),
        settings_frame=dbt.ref("int_model_settings"),
        this=f"{dbt.this.schema}.{dbt.this.identifier}",
        # var ltv_spark_recommendation_sample_users, through the config in _ml__models.yml (read on Spark only).
        sample_users=dbt.config.get("spark_sample_users"),
    )
