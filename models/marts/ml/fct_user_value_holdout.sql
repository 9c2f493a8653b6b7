-- Holdout rows of every user-value version side by side: what each version predicted at the
-- cut-off for users it never saw in training, and what those users then spent. Lift and
-- calibration charts start here.
with holdout_rows as (

    select user_id, model_version, holdout_predicted_spend, holdout_actual_spend
    from {{ ref('int_user_value_versions_unioned') }}
    where split = 'holdout'

)

select
    cast(user_id as string) as user_id,
    cast(model_version as integer) as model_version,
    cast(holdout_predicted_spend as double) as predicted_spend,
    cast(holdout_actual_spend as double) as actual_spend
from holdout_rows
