{{ config(materialized='view') }}
-- Every user-value version's prediction at the cut-off for every labelled user (not only the 20%
-- held out) beside what the user then spent in the horizon, so an analyst can score the versions
-- in a BI tool against what really happened. Training users' predictions are in-sample: compare
-- versions on in_holdout rows. A view: it only types the stacked version outputs.
select
    cast(versions.user_id as string) as user_id,
    cast(versions.model_version as integer) as model_version,
    cast(settings.cutoff_date as date) as cutoff_date,
    cast(versions.cutoff_predicted_spend as double) as predicted_spend_at_cutoff,
    cast(versions.cutoff_actual_spend as double) as actual_spend,
    cast(versions.split = 'holdout' as boolean) as in_holdout
from {{ ref('int_user_value_versions_unioned') }} as versions
cross join {{ ref('int_model_settings') }} as settings
where versions.split in ('train', 'holdout')
