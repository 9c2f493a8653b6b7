{{ validated_raw_rows('orders', references=[['user_id', 'base_shop__users', 'unknown_user']]) }}
