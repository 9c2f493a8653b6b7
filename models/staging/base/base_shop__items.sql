{{ validated_raw_rows(
    table_name='items',
    key_columns=['item_id'],
    columns=[
        {'name': 'item_id', 'type': 'text', 'required': true},
        {'name': 'title', 'type': 'text', 'required': true},
        {'name': 'category', 'type': 'text', 'required': true},
        {'name': 'brand', 'type': 'text', 'required': true},
        {'name': 'price', 'type': 'number', 'required': true, 'positive': 'price'},
        {'name': 'description', 'type': 'text', 'required': true},
    ],
) }}
