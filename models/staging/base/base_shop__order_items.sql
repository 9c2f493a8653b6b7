{{ validated_raw_rows(
    table_name='order_items',
    key_columns=['order_id', 'item_id'],
    columns=[
        {'name': 'order_id', 'type': 'text', 'required': true},
        {'name': 'item_id', 'type': 'text', 'required': true},
        {'name': 'quantity', 'type': 'integer', 'required': true, 'positive': 'quantity'},
        {'name': 'unit_price', 'type': 'number', 'required': true, 'positive': 'price'},
    ],
    references=[
        ['item_id', 'base_shop__items', 'unknown_item'],
        ['order_id', 'base_shop__orders', 'unknown_order'],
    ],
) }}
