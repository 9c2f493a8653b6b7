from ltv.dbt_entrypoints import user_value


def model(dbt, session):
    dbt.config(materialized="table")
    # Read only when v4's final choice is v3 itself (then v4 takes v3's stored fit and table); the
    # ref makes dbt run v3 first.
    dbt.ref("ml_user_value", v=3)
    return user_value(
        session,
        features_at_cutoff=dbt.ref("int_user_features_at_cutoff"),
        features_latest=dbt.ref("int_user_features_latest"),
        features_at_validation_cutoff=dbt.ref("int_user_features_at_validation_cutoff"),
        settings_frame=dbt.ref("int_model_settings"),
        version=4,
        # var ltv_spark_fit_sample_users, through the config in _ml__models.yml (read on Spark only).
        fit_sample_users=dbt.config.get("spark_fit_sample_users"),
        v3_table=f"{dbt.this.schema}.ml_user_value_v3",
    )
