-- One row per (user, item) the user ever bought, returned, cancelled, rated, viewed or put in the cart, with
-- the counts that item similarity and recommendations weigh, split at the cut-off for the offline
-- evaluation and at the validation cut-off (one horizon earlier) for per-shop tuning.
-- A purchase is a line of a completed order; lines of returned and cancelled orders are counted apart
-- (returned_*, cancelled_*): they are never purchases, and the recommenders never show such an item
-- back to that user. Views and add-to-cart count only with a weight > 0 (vars ltv_view_weight,
-- ltv_add_to_cart_weight). rating_* is the user's latest star rating of the item (stg_shop__reviews)
-- written up to that date, NULL when there is none.
-- A rebuild recomputes only the users with order, line, event or review rows checked since the last
-- build (materialization changed_keys_table): every pair of theirs is replaced.
{{ config(materialized='changed_keys_table', unique_key='user_id',
          input_columns_read={'int_model_settings': ['cutoff_date', 'label_end_date', 'validation_cutoff_date']}) }}
{%- set view_weight = number_setting('ltv_view_weight') %}
{%- set add_to_cart_weight = number_setting('ltv_add_to_cart_weight') %}

with changed_users as (

    {#- An order (or review) checked again may have moved to another user: its older version, checked
        with it, names the user it moved from. -#}
    {% call changed_keys() -%}
    select user_id from {{ ref('base_shop__orders') }} where {{ checked_since_last_build() }}
    union
    select orders.user_id
    from {{ ref('base_shop__order_items') }} as order_items
    inner join {{ ref('base_shop__orders') }} as orders
        on order_items.order_id = orders.order_id
    where {{ checked_since_last_build('order_items') }}
    union
    select user_id from {{ ref('base_shop__events') }} where {{ checked_since_last_build() }}
    union
    select user_id from {{ ref('base_shop__reviews') }} where {{ checked_since_last_build() }}
    {%- endcall %}

),

settings as (

    select cutoff_date, label_end_date, validation_cutoff_date from {{ ref('int_model_settings') }}

),

order_lines as (

    select
        orders.user_id,
        order_items.item_id,
        orders.ordered_on as interacted_on,
        case orders.status
            when 'completed' then 'purchase'
            when 'returned' then 'return'
            when 'cancelled' then 'cancel'
        end as interaction_type
    from {{ ref('stg_shop__order_items') }} as order_items
    inner join {{ ref('stg_shop__orders') }} as orders
        on order_items.order_id = orders.order_id
    where orders.status in ('completed', 'returned', 'cancelled')
      and {{ in_changed_keys('orders.user_id', 'changed_users') }}

),

browsing as (

    select user_id, item_id, cast(occurred_at as date) as interacted_on, event_type as interaction_type
    from {{ ref('stg_shop__events') }}
    where event_type in ('view', 'add_to_cart')
      and item_id is not null
      and {{ in_changed_keys('user_id', 'changed_users') }}

),

-- A rating is an interaction of its own (on a rating site it is the main one): it gives the pair a
-- row even when the item was never bought; it counts in none of the counts below.
rated as (

    select user_id, item_id, cast(created_at as date) as interacted_on, 'rating' as interaction_type
    from {{ ref('stg_shop__reviews') }}
    where rating is not null
      and item_id is not null
      and {{ in_changed_keys('user_id', 'changed_users') }}

),

interactions as (

    select * from order_lines
    union all
    select * from browsing
    union all
    select * from rated

),

-- A user may rate an item more than once: the latest rating written by each date stands.
ratings as (

    select
        reviews.user_id,
        reviews.item_id,
        max_by(reviews.rating, reviews.created_at) as rating_latest,
        max_by(reviews.rating, reviews.created_at)
            filter (where cast(reviews.created_at as date) <= settings.cutoff_date) as rating_before_cutoff,
        max_by(reviews.rating, reviews.created_at)
            filter (where cast(reviews.created_at as date) <= settings.validation_cutoff_date)
            as rating_before_validation_cutoff
    from {{ ref('stg_shop__reviews') }} as reviews
    cross join settings
    where reviews.rating is not null
      and reviews.item_id is not null
      and {{ in_changed_keys('reviews.user_id', 'changed_users') }}
    group by reviews.user_id, reviews.item_id

),

aggregated as (

    select
        interactions.user_id,
        interactions.item_id,
        count(*) filter (where interaction_type = 'purchase') as purchases_total,
        count(*) filter (where interaction_type = 'view') as views_total,
        count(*) filter (where interaction_type = 'add_to_cart') as add_to_cart_total,
        count(*) filter (where interaction_type = 'return') as returned_total,
        count(*) filter (where interaction_type = 'cancel') as cancelled_total,
        count(*) filter (where interaction_type = 'purchase' and interacted_on <= settings.cutoff_date) as purchases_before_cutoff,
        count(*) filter (where interaction_type = 'view' and interacted_on <= settings.cutoff_date) as views_before_cutoff,
        count(*) filter (where interaction_type = 'add_to_cart' and interacted_on <= settings.cutoff_date) as add_to_cart_before_cutoff,
        count(*) filter (where interaction_type = 'return' and interacted_on <= settings.cutoff_date) as returned_before_cutoff,
        count(*) filter (where interaction_type = 'cancel' and interacted_on <= settings.cutoff_date) as cancelled_before_cutoff,
        count(*) filter (where interaction_type = 'purchase' and interacted_on > settings.cutoff_date
                         and interacted_on <= settings.label_end_date) as purchases_after_cutoff,
        count(*) filter (where interaction_type = 'purchase' and interacted_on <= settings.validation_cutoff_date)
            as purchases_before_validation_cutoff,
        count(*) filter (where interaction_type = 'view' and interacted_on <= settings.validation_cutoff_date)
            as views_before_validation_cutoff,
        count(*) filter (where interaction_type = 'add_to_cart' and interacted_on <= settings.validation_cutoff_date)
            as add_to_cart_before_validation_cutoff,
        count(*) filter (where interaction_type = 'return' and interacted_on <= settings.validation_cutoff_date)
            as returned_before_validation_cutoff,
        count(*) filter (where interaction_type = 'cancel' and interacted_on <= settings.validation_cutoff_date)
            as cancelled_before_validation_cutoff
    from interactions
    cross join settings
    group by interactions.user_id, interactions.item_id

)

select
    aggregated.user_id,
    aggregated.item_id,
    purchases_total,
    views_total,
    add_to_cart_total,
    returned_total,
    cancelled_total,
    purchases_before_cutoff,
    purchases_after_cutoff,
    views_before_cutoff,
    add_to_cart_before_cutoff,
    returned_before_cutoff,
    cancelled_before_cutoff,
    purchases_before_validation_cutoff,
    views_before_validation_cutoff,
    add_to_cart_before_validation_cutoff,
    returned_before_validation_cutoff,
    cancelled_before_validation_cutoff,
    cast(ratings.rating_latest as double) as rating_latest,
    cast(ratings.rating_before_cutoff as double) as rating_before_cutoff,
    cast(ratings.rating_before_validation_cutoff as double) as rating_before_validation_cutoff,
    cast(purchases_total + {{ view_weight }} * views_total + {{ add_to_cart_weight }} * add_to_cart_total as double)
        as interaction_weight,
    cast(purchases_before_cutoff + {{ view_weight }} * views_before_cutoff
         + {{ add_to_cart_weight }} * add_to_cart_before_cutoff as double) as interaction_weight_before_cutoff
from aggregated
left join ratings
    on aggregated.user_id = ratings.user_id
   and aggregated.item_id = ratings.item_id
-- A pair that only has views (when views weigh nothing) and no order line in any window feeds no
-- model; leaving it out keeps this table near the size of the purchases, not of the events.
-- Returned and cancelled pairs stay: they are what keeps an item from being recommended back; rated
-- pairs stay: v3 may learn from ratings.
where purchases_total > 0
   or returned_total > 0
   or cancelled_total > 0
   or ratings.rating_latest is not null
   or {{ view_weight }} * views_total + {{ add_to_cart_weight }} * add_to_cart_total > 0
