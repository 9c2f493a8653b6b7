{{ validated_raw_rows(
    'support_conversations',
    rules=[['first_response_at < opened_at', 'response_before_open']],
    references=[['user_id', 'base_shop__users', 'unknown_user']],
) }}
