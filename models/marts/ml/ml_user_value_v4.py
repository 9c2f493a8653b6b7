from ltv.dbt_entrypoints import user_value


def model(dbt, session):
    dbt.config(materialized="table")
    return user_value(
        session,
        features_at_cutoff=dbt.ref("int_user_features_at_cutoff"),
        features_latest=dbt.ref("int_user_features_latest"),
        features_at_validation_cutoff=dbt.ref("int_user_features_at_validation_cutoff"),
        settings_frame=dbt.ref("int_model_settings").df(),
        version=4,
    )
