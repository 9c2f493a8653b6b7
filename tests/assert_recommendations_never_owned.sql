-- A recommendation of any version is never an item the user already bought, returned or cancelled.
with recommendations as (
    select user_id, item_id, 1 as model_version from {{ ref('fct_user_recommendations', v=1) }}
    union all
    select user_id, item_id, 2 from {{ ref('fct_user_recommendations', v=2) }}
    union all
    select user_id, item_id, 3 from {{ ref('fct_user_recommendations', v=3) }}
)

select recommendations.model_version, recommendations.user_id, recommendations.item_id
from recommendations
inner join {{ ref('int_user_item_interactions_aggregated') }} as interactions
    on recommendations.user_id = interactions.user_id
   and recommendations.item_id = interactions.item_id
where interactions.purchases_total > 0
   or interactions.returned_total > 0
   or interactions.cancelled_total > 0
