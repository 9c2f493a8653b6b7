select
    event_id,
    user_id,
    item_id,
    event_type,
    occurred_at
from {{ ref('base_shop__events') }}
where quarantine_reason is null
