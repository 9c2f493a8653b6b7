-- Lift and calibration of each user-value version on held-out users: actual vs predicted spend
-- per predicted decile.
with ranked as (
    select model_version, predicted_spend, actual_spend,
           ntile(10) over (partition by model_version order by predicted_spend, user_id) as predicted_decile
    from {{ ref('fct_user_value_holdout') }}
)
select model_version, predicted_decile, count(*) as users,
       avg(predicted_spend) as average_predicted, avg(actual_spend) as average_actual
from ranked
group by model_version, predicted_decile
order by model_version, predicted_decile desc
