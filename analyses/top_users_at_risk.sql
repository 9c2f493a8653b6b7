-- The 100 most valuable users who are most likely to have churned: who to call first.
select user_id, predicted_spend, value_decile, probability_alive, churn_risk, days_since_last_activity,
       average_experience_score, recommended_item_1, suggested_action
from {{ ref('dim_users') }}
where churn_risk is not null
order by predicted_spend * churn_risk desc
limit 100
