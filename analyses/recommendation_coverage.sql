-- How many users get personal recommendations (not the popularity fallback), and how much of the
-- catalogue the recommendations reach.
with per_user as (
    select user_id, bool_or(is_fallback) as is_fallback, count(*) as recommendations
    from {{ ref('fct_user_recommendations') }}
    group by user_id
)
select
    (select count(*) from {{ ref('dim_users') }}) as users,
    count(*) filter (where not is_fallback) as users_with_personal_recommendations,
    count(*) filter (where is_fallback) as users_with_popularity_fallback,
    (select count(distinct item_id) from {{ ref('fct_user_recommendations') }}) as items_recommended,
    (select count(*) from {{ ref('stg_shop__items') }}) as catalogue_size
from per_user
