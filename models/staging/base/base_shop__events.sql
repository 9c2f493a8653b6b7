{{ validated_raw_rows(
    table_name='events',
    key_columns=['event_id'],
    columns=[
        {'name': 'event_id', 'type': 'text', 'required': true},
        {'name': 'user_id', 'type': 'text', 'required': true},
        {'name': 'item_id', 'type': 'text', 'required': false},
        {'name': 'event_type', 'type': 'text', 'required': true, 'allowed': ['view', 'add_to_cart', 'search', 'login']},
        {'name': 'occurred_at', 'type': 'timestamp', 'required': true},
    ],
    references=[
        ['user_id', 'base_shop__users', 'unknown_user'],
        ['item_id', 'base_shop__items', 'unknown_item'],
    ],
) }}
