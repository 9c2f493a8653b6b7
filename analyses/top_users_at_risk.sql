-- The 100 most valuable users who are most likely to have churned: who to call first, and what to
-- offer them (the top recommendation, by title).
select users.user_id, users.predicted_spend, users.value_decile, users.probability_alive, users.churn_risk,
       users.days_since_last_activity, users.average_experience_score, users.recommended_item_1,
       items.title as recommended_item_1_title, users.suggested_action
from {{ ref('dim_users') }} as users
left join {{ ref('dim_items') }} as items on users.recommended_item_1 = items.item_id
where users.churn_risk is not null
order by users.predicted_spend * users.churn_risk desc
limit 100
