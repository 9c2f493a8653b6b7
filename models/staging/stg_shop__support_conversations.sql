-- The message is the original text and may hold personal data: it stays in staging;
-- int_texts_masked is the only way it reaches anything downstream.
select
    conversation_id,
    user_id,
    opened_at,
    first_response_at,
    {{ dbt.datediff('opened_at', 'first_response_at', 'second') }} / cast(3600 as double) as response_hours,
    message,
    satisfaction_rating
from {{ ref('base_shop__support_conversations') }}
where quarantine_reason is null
