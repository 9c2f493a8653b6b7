-- Top-N items per user from similarity v3, the item weights tuned per shop (item-kNN, EASE or RP3beta,
-- ml_recommendation_tuning): score(j) = Σᵢ r(u,i)·w(i,j) over the items the user interacted with,
-- never an item the user bought, returned or cancelled; because_item_id is the item contributing most. Users with no history get the most popular items (is_fallback).
{{ typed_user_recommendations(3) }}
