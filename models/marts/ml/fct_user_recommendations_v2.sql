-- Top-N items per user from behaviour similarity v2 (BM25): score(j) = Σᵢ r(u,i)·sim(i,j)
-- over the items the user interacted with, never an item the user already bought; because_item_id
-- is the item contributing most. Users with no history get the most popular items (is_fallback).
select
    cast(user_id as varchar) as user_id,
    cast(rank as integer) as rank,
    cast(item_id as varchar) as item_id,
    cast(score as double) as score,
    cast(because_item_id as varchar) as because_item_id,
    cast(is_fallback as boolean) as is_fallback
from {{ ref('ml_user_recommendations', v=2) }}
