from ltv.dbt_entrypoints import user_value


def model(dbt, session):
    dbt.config(materialized="table")
    return user_value(
        session,
        features_at_cutoff=dbt.ref("int_user_features_at_cutoff"),
        features_latest=dbt.ref("int_user_features_latest"),
        settings_frame=dbt.ref("int_model_settings"),
        version=1,
        # var ltv_spark_fit_sample_users, through the config in _ml__models.yml (read on Spark only).
        fit_sample_users=dbt.config.get("spark_fit_sample_users"),
    )
