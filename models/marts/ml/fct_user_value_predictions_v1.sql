-- Contracted public face of ml_user_value v1: one row per user, expected net spend over the next
-- horizon from the latest features, and the three features that move it most (user_value_prediction_columns).
select
    {{ user_value_prediction_columns([
        'contribution_activity', 'contribution_frequency', 'contribution_amount', 'intercept'
    ]) }}
from {{ ref('ml_user_value', v=1) }}
