-- One row per segment: how many users, how much value they are expected to bring, and their share.
with per_segment as (

    select
        segment,
        count(*) as users,
        coalesce({{ exact_sum('predicted_spend') }}, 0) as expected_value,
        {{ exact_avg('predicted_spend') }} as average_predicted_spend,
        {{ exact_avg('churn_risk') }} as average_churn_risk
    from {{ ref('dim_users') }}
    group by segment

)

select
    cast(segment as varchar) as segment,
    cast({{ suggested_action('segment') }} as varchar) as suggested_action,
    cast(users as integer) as users,
    cast(users / sum(users) over () as double) as share_of_users,
    cast(expected_value as double) as expected_value,
    cast(case when sum(cast(expected_value as decimal(38, 10))) over () = 0 then 0
         else expected_value / cast(sum(cast(expected_value as decimal(38, 10))) over () as double) end as double)
        as share_of_expected_value,
    cast(average_predicted_spend as double) as average_predicted_spend,
    cast(average_churn_risk as double) as average_churn_risk
from per_segment
