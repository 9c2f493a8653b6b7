{{ validated_raw_rows(
    table_name='orders',
    key_columns=['order_id'],
    columns=[
        {'name': 'order_id', 'type': 'text', 'required': true},
        {'name': 'user_id', 'type': 'text', 'required': true},
        {'name': 'ordered_at', 'type': 'timestamp', 'required': true},
        {'name': 'status', 'type': 'text', 'required': true, 'allowed': ['completed', 'cancelled', 'returned']},
    ],
    references=[['user_id', 'base_shop__users', 'unknown_user']],
) }}
