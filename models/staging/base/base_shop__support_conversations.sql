{{ validated_raw_rows(
    table_name='support_conversations',
    key_columns=['conversation_id'],
    columns=[
        {'name': 'conversation_id', 'type': 'text', 'required': true},
        {'name': 'user_id', 'type': 'text', 'required': true},
        {'name': 'opened_at', 'type': 'timestamp', 'required': true},
        {'name': 'first_response_at', 'type': 'timestamp', 'required': true},
        {'name': 'message', 'type': 'text', 'required': false},
        {'name': 'satisfaction_rating', 'type': 'rating', 'required': false},
    ],
    rules=[['first_response_at < opened_at', 'response_before_open']],
    references=[['user_id', 'base_shop__users', 'unknown_user']],
) }}
