{{ validated_raw_rows(
    table_name='users',
    key_columns=['user_id'],
    columns=[
        {'name': 'user_id', 'type': 'text', 'required': true},
        {'name': 'signed_up_at', 'type': 'timestamp', 'required': true},
        {'name': 'country', 'type': 'text', 'required': true},
    ],
) }}
