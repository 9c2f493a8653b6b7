select
    user_id,
    signed_up_at,
    country
from {{ ref('base_shop__users') }}
where quarantine_reason is null
