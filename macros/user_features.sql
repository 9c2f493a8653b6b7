{#-
  Per-user features as of one date (a column of int_model_settings: cutoff_date, scoring_date or
  validation_cutoff_date). With with_label, future_net_spend is the net spend in
  (as-of date, label_end_column], another int_model_settings column (label_end_date by default;
  cutoff_date for the validation features, so the label stays inside the training period).
  Everything on or before that date counts; nothing after it. Users with no purchase get defined
  values (0 for counts, spend and rates; null only where no number has a meaning: average rating
  and satisfaction of a user who never gave one).

  activity  = 1 / (days since last activity + 1); activity is any event, order or review, and
              signing up counts, so a user who did nothing since signing up is measured from then.
              A user's start (days_since_signup) is the sign-up date or the first activity, if
              earlier or if the shop records no sign-up date.
  frequency = completed orders / (days since first purchase + 1)
  amount    = net spend / (days since first purchase + 1)
  The BG/NBD inputs follow Fader, Hardie & Lee: a "purchase" is a day with a completed order;
  repeat_purchase_days = x, purchase_span_days = t_x, customer_age_days = T (all in days).
-#}
{% macro user_features_as_of(as_of_column, with_label=false, label_end_column='label_end_date') %}

with settings as (

    select {{ as_of_column }} as as_of_date, {{ label_end_column }} as label_end_date
    from {{ ref('int_model_settings') }}

),

first_activities as (

    select user_id, min(activity_on) as first_activity_on
    from {{ ref('int_user_activities_unioned') }}
    group by user_id

),

users as (

    -- A user is known from sign-up or from the first thing they did, whichever is earlier: many
    -- shops record no sign-up date, and imported customers often have orders before it.
    select
        users.user_id,
        least(cast(users.signed_up_at as date), first_activities.first_activity_on) as signed_up_on,
        settings.as_of_date
    from {{ ref('stg_shop__users') }} as users
    left join first_activities on users.user_id = first_activities.user_id
    cross join settings
    where least(cast(users.signed_up_at as date), first_activities.first_activity_on) <= settings.as_of_date

),

orders_so_far as (

    select orders.*
    from {{ ref('int_orders_summarized') }} as orders
    cross join settings
    where orders.ordered_on <= settings.as_of_date

),

order_counts as (

    select
        user_id,
        count(*) filter (where status = 'completed') as completed_orders,
        count(*) filter (where status = 'returned') as returned_orders,
        count(*) filter (where status = 'cancelled') as cancelled_orders,
        {{ exact_sum('net_amount') }} as net_spend
    from orders_so_far
    group by user_id

),

purchase_days as (

    select user_id, ordered_on, {{ exact_sum('net_amount') }} as day_spend
    from orders_so_far
    where status = 'completed'
    group by user_id, ordered_on

),

purchase_day_summary as (

    select
        user_id,
        count(*) as distinct_purchase_days,
        min(ordered_on) as first_purchase_on,
        max(ordered_on) as last_purchase_on,
        -- Gamma-Gamma's monetary value: mean spend of the repeat purchase days (first day excluded).
        case
            when count(*) > 1 then ({{ exact_sum('day_spend') }} - min_by(day_spend, ordered_on)) / (count(*) - 1)
            else 0
        end as average_repeat_order_value
    from purchase_days
    group by user_id

),

activities_so_far as (

    select activities.*
    from {{ ref('int_user_activities_unioned') }} as activities
    cross join settings
    where activities.activity_on <= settings.as_of_date

),

activity_summary as (

    select
        activities_so_far.user_id,
        max(activity_on) as last_activity_on,
        count(*) filter (where activity_source = 'event' and activity_on > settings.as_of_date - 90) as events_last_90_days,
        count(*) filter (where event_type = 'view' and activity_on > settings.as_of_date - 90) as views_last_90_days,
        count(*) filter (where event_type = 'add_to_cart' and activity_on > settings.as_of_date - 90) as add_to_cart_last_90_days
    from activities_so_far
    cross join settings
    group by activities_so_far.user_id

),

review_summary as (

    select reviews.user_id, count(*) as reviews_written, avg(reviews.rating) as average_rating
    from {{ ref('stg_shop__reviews') }} as reviews
    cross join settings
    where cast(reviews.created_at as date) <= settings.as_of_date
    group by reviews.user_id

),

support_summary as (

    select
        conversations.user_id,
        count(*) as support_contacts,
        avg(conversations.satisfaction_rating) as average_support_satisfaction
    from {{ ref('stg_shop__support_conversations') }} as conversations
    cross join settings
    where cast(conversations.opened_at as date) <= settings.as_of_date
    group by conversations.user_id

),
{% if with_label %}
label as (

    select orders.user_id, {{ exact_sum('orders.net_amount') }} as future_net_spend
    from {{ ref('int_orders_summarized') }} as orders
    cross join settings
    where orders.ordered_on > settings.as_of_date
      and orders.ordered_on <= settings.label_end_date
    group by orders.user_id

),
{% endif %}
joined as (

    select
        users.user_id,
        users.as_of_date,
        {{ ltv_days_between('users.signed_up_on', 'users.as_of_date') }} as days_since_signup,
        {{ ltv_days_between('greatest(users.signed_up_on, coalesce(activity_summary.last_activity_on, users.signed_up_on))', 'users.as_of_date') }}
            as days_since_last_activity,
        purchase_day_summary.first_purchase_on is not null as has_purchase,
        coalesce({{ ltv_days_between('purchase_day_summary.first_purchase_on', 'users.as_of_date') }}, 0) as days_since_first_purchase,
        coalesce({{ ltv_days_between('purchase_day_summary.last_purchase_on', 'users.as_of_date') }}, 0) as days_since_last_purchase,
        coalesce(order_counts.completed_orders, 0) as completed_orders,
        coalesce(order_counts.returned_orders, 0) as returned_orders,
        coalesce(order_counts.cancelled_orders, 0) as cancelled_orders,
        coalesce(purchase_day_summary.distinct_purchase_days, 0) as distinct_purchase_days,
        coalesce(cast(order_counts.net_spend as double), 0) as net_spend,
        coalesce(cast(purchase_day_summary.average_repeat_order_value as double), 0) as average_repeat_order_value,
        coalesce({{ ltv_days_between('purchase_day_summary.first_purchase_on', 'purchase_day_summary.last_purchase_on') }}, 0) as purchase_span_days,
        coalesce(activity_summary.events_last_90_days, 0) as events_last_90_days,
        coalesce(activity_summary.views_last_90_days, 0) as views_last_90_days,
        coalesce(activity_summary.add_to_cart_last_90_days, 0) as add_to_cart_last_90_days,
        coalesce(review_summary.reviews_written, 0) as reviews_written,
        cast(review_summary.average_rating as double) as average_rating,
        coalesce(support_summary.support_contacts, 0) as support_contacts,
        cast(support_summary.average_support_satisfaction as double) as average_support_satisfaction,
        {% if with_label %}
        coalesce(cast(label.future_net_spend as double), 0) as future_net_spend
        {% else %}
        cast(null as double) as future_net_spend
        {% endif %}
    from users
    left join order_counts on users.user_id = order_counts.user_id
    left join purchase_day_summary on users.user_id = purchase_day_summary.user_id
    left join activity_summary on users.user_id = activity_summary.user_id
    left join review_summary on users.user_id = review_summary.user_id
    left join support_summary on users.user_id = support_summary.user_id
    {% if with_label %}
    left join label on users.user_id = label.user_id
    {% endif %}

)

{#- Divisions are of doubles: Spark reads 1.0 as a DECIMAL and keeps a decimal quotient (12 digits),
    where DuckDB divides in DOUBLE. #}
select
    user_id,
    as_of_date,
    days_since_signup,
    days_since_last_activity,
    cast(1 as double) / (days_since_last_activity + 1) as activity,
    has_purchase,
    days_since_first_purchase,
    days_since_last_purchase,
    completed_orders,
    returned_orders,
    cancelled_orders,
    distinct_purchase_days,
    greatest(distinct_purchase_days - 1, 0) as repeat_purchase_days,
    purchase_span_days,
    days_since_first_purchase as customer_age_days,
    case when has_purchase then completed_orders / cast(days_since_first_purchase + 1 as double) else 0.0 end as frequency,
    case when has_purchase then net_spend / cast(days_since_first_purchase + 1 as double) else 0.0 end as amount,
    net_spend,
    case when completed_orders > 0 then net_spend / completed_orders else 0.0 end as average_order_value,
    average_repeat_order_value,
    case when completed_orders + returned_orders > 0
        then returned_orders / (completed_orders + returned_orders)::double else 0.0 end as return_share,
    events_last_90_days,
    views_last_90_days,
    add_to_cart_last_90_days,
    reviews_written,
    average_rating,
    support_contacts,
    average_support_satisfaction,
    future_net_spend
from joined

{% endmacro %}
