-- A recommendation is never an item the user already bought.
select recommendations.user_id, recommendations.item_id
from {{ ref('fct_user_recommendations') }} as recommendations
inner join {{ ref('int_user_item_interactions_aggregated') }} as interactions
    on recommendations.user_id = interactions.user_id
   and recommendations.item_id = interactions.item_id
where interactions.purchases_total > 0
