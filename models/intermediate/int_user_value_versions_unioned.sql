{{ config(materialized='view') }}
-- Every user-value version's output in one relation: each scored user with the split it was in at
-- the cut-off, what the version predicted then for every labelled user and what they spent.
-- fct_user_value_versions measures and ranks the versions from it; fct_user_value_holdout shows
-- the holdout rows. A view: it only stacks the version tables.
{%- set versions = [1, 2, 3, 4] %}
{%- for version in versions %}

select
    cast({{ version }} as integer) as model_version,
    user_id,
    split,
    holdout_predicted_spend,
    holdout_actual_spend,
    cutoff_predicted_spend,
    cutoff_actual_spend
from {{ ref('ml_user_value', v=version) }}
{{ "union all" if not loop.last }}
{%- endfor %}
