-- Contracted public face of ml_user_value v1: one row per user, expected net spend over the next
-- horizon from the latest features, and the three features that move it most (user_value_driver_columns).
select
    cast(user_id as string) as user_id,
    cast(model_version as integer) as model_version,
    cast(predicted_spend as double) as predicted_spend,
    cast(value_decile as integer) as value_decile,
    cast(contribution_activity as double) as contribution_activity,
    cast(contribution_frequency as double) as contribution_frequency,
    cast(contribution_amount as double) as contribution_amount,
    cast(intercept as double) as intercept,
    cast(features_as_of_date as date) as features_as_of_date,
    {{ user_value_driver_columns() }}
from {{ ref('ml_user_value', v=1) }}
