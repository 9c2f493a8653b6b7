-- The comment is the original text and may hold personal data: it stays in staging;
-- int_texts_masked is the only way it reaches anything downstream.
select
    review_id,
    user_id,
    item_id,
    rating,
    comment,
    created_at
from {{ ref('base_shop__reviews') }}
where quarantine_reason is null
