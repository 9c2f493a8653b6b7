{{ validated_raw_rows('items') }}
