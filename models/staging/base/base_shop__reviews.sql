{{ validated_raw_rows(
    table_name='reviews',
    key_columns=['review_id'],
    columns=[
        {'name': 'review_id', 'type': 'text', 'required': true},
        {'name': 'user_id', 'type': 'text', 'required': true},
        {'name': 'item_id', 'type': 'text', 'required': true},
        {'name': 'rating', 'type': 'rating', 'required': true},
        {'name': 'comment', 'type': 'text', 'required': false},
        {'name': 'created_at', 'type': 'timestamp', 'required': true},
    ],
    references=[
        ['user_id', 'base_shop__users', 'unknown_user'],
        ['item_id', 'base_shop__items', 'unknown_item'],
    ],
) }}
