-- Contracted public face of ml_user_value v2: one row per user, expected net spend over the next
-- horizon from the latest features, and the three features that move it most (user_value_driver_columns).
select
    cast(user_id as string) as user_id,
    cast(model_version as integer) as model_version,
    cast(predicted_spend as double) as predicted_spend,
    cast(value_decile as integer) as value_decile,
    cast(predicted_purchases as double) as predicted_purchases,
    cast(probability_alive as double) as probability_alive,
    cast(predicted_average_order_value as double) as predicted_average_order_value,
    cast(features_as_of_date as date) as features_as_of_date,
    {{ user_value_driver_columns() }}
from {{ ref('ml_user_value', v=2) }}
