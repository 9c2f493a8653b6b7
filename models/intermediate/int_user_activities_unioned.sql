{{ config(materialized='view') }}

-- Every dated thing a user did: browsing events, orders (any status) and reviews. A view:
-- it is read once per feature date and storing it would copy the events table.
select user_id, cast(occurred_at as date) as activity_on, 'event' as activity_source, event_type
from {{ ref('stg_shop__events') }}

union all

select user_id, ordered_on, 'order', null
from {{ ref('stg_shop__orders') }}

union all

select user_id, cast(created_at as date), 'review', null
from {{ ref('stg_shop__reviews') }}
