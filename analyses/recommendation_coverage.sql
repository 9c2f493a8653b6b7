-- How many users get personal recommendations (not the popularity fallback), and how much of the
-- catalogue the recommendations reach. Only public marts are read, so that it runs on the served
-- file too (`ltv analyses`).
with per_user as (
    select user_id, bool_or(is_fallback) as is_fallback, count(*) as recommendations
    from {{ ref('fct_user_recommendations') }}
    group by user_id
),

catalogue as (
    select count(*) as catalogue_items from {{ ref('dim_items') }}
),

reached as (
    select count(distinct item_id) as items_recommended from {{ ref('fct_user_recommendations') }}
)

select
    (select count(*) from {{ ref('dim_users') }}) as users,
    count(*) filter (where not per_user.is_fallback) as users_with_personal_recommendations,
    count(*) filter (where per_user.is_fallback) as users_with_popularity_fallback,
    any_value(reached.items_recommended) as items_recommended,
    any_value(catalogue.catalogue_items) as catalogue_items,
    any_value(reached.items_recommended) / nullif(any_value(catalogue.catalogue_items), 0) as catalogue_share_recommended
from per_user
cross join catalogue
cross join reached
