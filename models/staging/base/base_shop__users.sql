{{ validated_raw_rows('users') }}
