-- Top-N items per user from behaviour similarity v2 (BM25): score(j) = Σᵢ r(u,i)·sim(i,j)
-- over the items the user interacted with, never an item the user bought, returned or cancelled; because_item_id
-- is the item contributing most. Users with no history get the most popular items (is_fallback).
{{ typed_user_recommendations(2) }}
