{{ validated_raw_rows(
    'order_items',
    references=[
        ['item_id', 'base_shop__items', 'unknown_item'],
        ['order_id', 'base_shop__orders', 'unknown_order'],
    ],
) }}
