-- Contracted public face of ml_user_value v2: one row per user, expected net spend over the next
-- horizon from the latest features, and the three features that move it most (user_value_prediction_columns).
select
    {{ user_value_prediction_columns(['predicted_purchases', 'probability_alive', 'predicted_average_order_value']) }}
from {{ ref('ml_user_value', v=2) }}
