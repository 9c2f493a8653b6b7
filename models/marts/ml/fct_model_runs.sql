-- The run registry as BI reads it: one row per fit or evaluation of any model, across builds.
-- The storage (registry.model_run_log) is append-only and never dropped by dbt; this table is a
-- typed copy with the common metrics pulled out of the JSON. It must build after every model
-- that writes to the log, hence the explicit dependencies:
-- depends_on: {{ ref('ml_user_value', v=1) }}
-- depends_on: {{ ref('ml_user_value', v=2) }}
-- depends_on: {{ ref('ml_user_value', v=3) }}
-- depends_on: {{ ref('ml_user_value', v=4) }}
-- depends_on: {{ ref('ml_recommendation_evaluation') }}
-- depends_on: {{ ref('ml_text_sentiment', v=2) }}
-- depends_on: {{ ref('ml_sentiment_evaluation') }}
-- depends_on: {{ ref('ml_conversation_experience', v=1) }}
-- depends_on: {{ ref('ml_conversation_experience', v=2) }}
{%- set metric_columns = [
    'rmse', 'mae', 'spearman', 'normalized_gini', 'top20_capture', 'predicted_total', 'actual_total',
    'baseline_rmse', 'precision_at_10', 'recall_at_10', 'ndcg_at_10', 'map_at_10', 'catalogue_coverage',
    'auc_positive_vs_negative', 'spearman_with_rating', 'mse', 'r2', 'baseline_ndcg_at_10'] %}

with runs as (

    select
        *,
        status = 'fitted' and row_number() over (
            partition by model_name, model_version, status order by trained_at desc, run_id
        ) = 1 as is_latest_fit
    from {{ source('registry', 'model_run_log') }}

),

champion as (

    select cast(model_version as string) as model_version, champion_reason
    from {{ ref('fct_user_value_versions') }}
    where is_champion

)

select
    runs.run_id,
    runs.model_name,
    runs.model_version,
    runs.method,
    status,
    message,
    invocation_id,
    trained_at,
    cutoff_date,
    horizon_days,
    train_rows,
    holdout_rows,
    parameters_json,
    metrics_json,
    -- Why metrics may be NULL (too_few_users, degenerate_labels, too_few_spenders, degenerate_catalogue; ok otherwise)
    -- and whether the run beat its trivial baseline: NULL, never 0, where a metric is undefined.
    {{ ltv_json_field('metrics_json', 'metric_status') }} as metric_status,
    -- The user-value fit served now (its latest fit, which a rebuild may have reused) and why.
    coalesce(runs.model_name = 'user_value' and runs.is_latest_fit and champion.model_version is not null, false) as is_champion,
    case when runs.model_name = 'user_value' and runs.is_latest_fit then champion.champion_reason end as champion_reason,
    try_cast({{ ltv_json_field('metrics_json', 'beats_baseline') }} as boolean) as beats_baseline,
    {%- for metric in metric_columns %}
    try_cast({{ ltv_json_field('metrics_json', metric) }} as double) as {{ metric }}{{ "," if not loop.last }}
    {%- endfor %}
from runs
left join champion
    on runs.model_name = 'user_value' and runs.model_version = champion.model_version
