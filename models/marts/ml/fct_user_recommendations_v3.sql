-- Top-N items per user from similarity v3, the item weights tuned per shop (item-kNN, EASE or RP3beta,
-- ml_recommendation_tuning): score(j) = Σᵢ r(u,i)·w(i,j) over the items the user interacted with,
-- never an item the user bought, returned or cancelled; because_item_id is the item contributing most. Users with no history get the most popular items (is_fallback).
select
    cast(user_id as varchar) as user_id,
    cast(rank as integer) as rank,
    cast(item_id as varchar) as item_id,
    cast(score as double) as score,
    cast(because_item_id as varchar) as because_item_id,
    cast(is_fallback as boolean) as is_fallback
from {{ ref('ml_user_recommendations', v=3) }}
