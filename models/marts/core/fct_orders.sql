-- One row per accepted order with its value; a returned order's net amount is 0 (paid, refunded).
select
    cast(order_id as string) as order_id,
    cast(user_id as string) as user_id,
    cast(ordered_at as timestamp) as ordered_at,
    cast(ordered_on as date) as ordered_on,
    cast(status as string) as status,
    cast(line_count as integer) as line_count,
    cast(units as integer) as units,
    cast(order_amount as double) as order_amount,
    cast(net_amount as double) as net_amount
from {{ ref('int_orders_summarized') }}
