-- One row per segment: how many users, how much they are predicted to spend, and their shares.
with per_segment as (

    select
        segment,
        count(*) as users,
        coalesce({{ exact_sum('predicted_spend') }}, 0) as total_predicted_spend,
        {{ exact_avg('predicted_spend') }} as average_predicted_spend,
        {{ exact_avg('churn_risk') }} as average_churn_risk
    from {{ ref('dim_users') }}
    group by segment

)

select
    cast(segment as string) as segment,
    cast({{ suggested_action('segment') }} as string) as suggested_action,
    cast(users as integer) as users,
    cast(users / sum(users) over () as double) as share_of_users,
    cast(total_predicted_spend as double) as total_predicted_spend,
    cast(case when sum(cast(total_predicted_spend as decimal(38, 10))) over () = 0 then 0
         else total_predicted_spend / cast(sum(cast(total_predicted_spend as decimal(38, 10))) over () as double) end as double)
        as share_of_predicted_spend,
    cast(average_predicted_spend as double) as average_predicted_spend,
    cast(average_churn_risk as double) as average_churn_risk
from per_segment
