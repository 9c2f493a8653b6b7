select
    order_id,
    item_id,
    quantity,
    unit_price,
    quantity * unit_price as line_amount
from {{ ref('base_shop__order_items') }}
where quarantine_reason is null
