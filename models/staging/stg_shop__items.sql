select
    item_id,
    title,
    category,
    brand,
    price,
    description
from {{ ref('base_shop__items') }}
where quarantine_reason is null
