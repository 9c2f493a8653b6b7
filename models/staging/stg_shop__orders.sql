select
    order_id,
    user_id,
    ordered_at,
    cast(ordered_at as date) as ordered_on,
    status
from {{ ref('base_shop__orders') }}
where quarantine_reason is null
