-- One row per (user, item) the user ever bought, viewed or put in the cart, with the counts that
-- item similarity and recommendations weigh, split at the cut-off for the offline evaluation.
-- A purchase is a line of a completed order; views and add-to-cart count only with a weight > 0
-- (vars ltv_view_weight, ltv_add_to_cart_weight).
-- A rebuild recomputes only the users with order, line or event rows checked since the last build
-- (materialization changed_keys_table): every pair of theirs is replaced.
{{ config(materialized='changed_keys_table', unique_key='user_id',
          input_columns_read={'int_model_settings': ['cutoff_date', 'label_end_date']}) }}
{%- set view_weight = number_setting('ltv_view_weight') %}
{%- set add_to_cart_weight = number_setting('ltv_add_to_cart_weight') %}

with changed_users as (

    {#- An order checked again may have moved to another user: its older version, checked with it,
        names the user it moved from. -#}
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
    {%- endcall %}

),

settings as (

    select cutoff_date, label_end_date from {{ ref('int_model_settings') }}

),

purchases as (

    select
        orders.user_id,
        order_items.item_id,
        orders.ordered_on as interacted_on,
        'purchase' as interaction_type
    from {{ ref('stg_shop__order_items') }} as order_items
    inner join {{ ref('stg_shop__orders') }} as orders
        on order_items.order_id = orders.order_id
    where orders.status = 'completed'
      and orders.user_id in (select user_id from changed_users)

),

browsing as (

    select user_id, item_id, cast(occurred_at as date) as interacted_on, event_type as interaction_type
    from {{ ref('stg_shop__events') }}
    where event_type in ('view', 'add_to_cart')
      and item_id is not null
      and user_id in (select user_id from changed_users)

),

interactions as (

    select * from purchases
    union all
    select * from browsing

),

aggregated as (

    select
        interactions.user_id,
        interactions.item_id,
        count(*) filter (where interaction_type = 'purchase') as purchases_total,
        count(*) filter (where interaction_type = 'view') as views_total,
        count(*) filter (where interaction_type = 'add_to_cart') as add_to_cart_total,
        count(*) filter (where interaction_type = 'purchase' and interacted_on <= settings.cutoff_date) as purchases_before_cutoff,
        count(*) filter (where interaction_type = 'view' and interacted_on <= settings.cutoff_date) as views_before_cutoff,
        count(*) filter (where interaction_type = 'add_to_cart' and interacted_on <= settings.cutoff_date) as add_to_cart_before_cutoff,
        count(*) filter (where interaction_type = 'purchase' and interacted_on > settings.cutoff_date
                         and interacted_on <= settings.label_end_date) as purchases_after_cutoff
    from interactions
    cross join settings
    group by interactions.user_id, interactions.item_id

)

select
    user_id,
    item_id,
    purchases_total,
    views_total,
    add_to_cart_total,
    purchases_before_cutoff,
    purchases_after_cutoff,
    cast(purchases_total + {{ view_weight }} * views_total + {{ add_to_cart_weight }} * add_to_cart_total as double)
        as interaction_weight,
    cast(purchases_before_cutoff + {{ view_weight }} * views_before_cutoff
         + {{ add_to_cart_weight }} * add_to_cart_before_cutoff as double) as interaction_weight_before_cutoff
from aggregated
-- A pair that only has views (when views weigh nothing) and no purchase in any window feeds no
-- model; leaving it out keeps this table near the size of the purchases, not of the events.
where purchases_total > 0
   or {{ view_weight }} * views_total + {{ add_to_cart_weight }} * add_to_cart_total > 0
