-- Per-user features as of the latest order date, the inputs the user-value models score from.
select
    cast(user_id as string) as user_id,
    cast(as_of_date as date) as features_as_of_date,
    cast(days_since_signup as integer) as days_since_signup,
    cast(days_since_last_activity as integer) as days_since_last_activity,
    cast(activity as double) as activity,
    cast(frequency as double) as frequency,
    cast(amount as double) as amount,
    cast(has_purchase as boolean) as has_purchase,
    cast(days_since_first_purchase as integer) as days_since_first_purchase,
    cast(days_since_last_purchase as integer) as days_since_last_purchase,
    cast(completed_orders as integer) as completed_orders,
    cast(returned_orders as integer) as returned_orders,
    cast(cancelled_orders as integer) as cancelled_orders,
    cast(distinct_purchase_days as integer) as distinct_purchase_days,
    cast(net_spend as double) as net_spend,
    cast(average_order_value as double) as average_order_value,
    cast(return_share as double) as return_share,
    cast(events_last_90_days as integer) as events_last_90_days,
    cast(reviews_written as integer) as reviews_written,
    cast(average_rating as double) as average_rating,
    cast(support_contacts as integer) as support_contacts
from {{ ref('int_user_features_latest') }}
