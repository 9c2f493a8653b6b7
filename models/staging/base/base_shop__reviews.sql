{{ validated_raw_rows(
    'reviews',
    references=[
        ['user_id', 'base_shop__users', 'unknown_user'],
        ['item_id', 'base_shop__items', 'unknown_item'],
    ],
) }}
