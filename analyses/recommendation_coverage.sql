-- How many users get personal recommendations (not the popularity fallback), and how many items
-- the recommendations reach. Only public marts are read, so that it runs on the served file too
-- (`ltv analyses`); the catalogue's size is not among them yet.
with per_user as (
    select user_id, bool_or(is_fallback) as is_fallback, count(*) as recommendations
    from {{ ref('fct_user_recommendations') }}
    group by user_id
)
select
    (select count(*) from {{ ref('dim_users') }}) as users,
    count(*) filter (where not is_fallback) as users_with_personal_recommendations,
    count(*) filter (where is_fallback) as users_with_popularity_fallback,
    (select count(distinct item_id) from {{ ref('fct_user_recommendations') }}) as items_recommended
from per_user
