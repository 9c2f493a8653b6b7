-- One row per user-value version: how it did on this build's holdout, whether it beat predicting
-- the training mean, and which version is the champion that the unsuffixed
-- fct_user_value_predictions, dim_users and fct_segment_summary serve.
--
-- The rule (var ltv_champion_metric; rmse by default): among the versions that scored users in
-- this build, were measured on at least 50 holdout users and beat the training-mean baseline on
-- RMSE, the best on the chosen metric (lowest RMSE, or highest normalized Gini or top-20% capture);
-- ties go to the lower version. If none qualifies, the lowest version that scored users (v1, the
-- published method) is served as the last resort, and champion_reason says so.
-- Its post-hook points the unsuffixed fct_user_value_predictions at the champion.
{{ config(post_hook="{{ create_served_user_value_view() }}") }}
{%- set versions = [1, 2, 3, 4] %}
{%- set metric = validated_choice_var('ltv_champion_metric', ['rmse', 'normalized_gini', 'top20_capture']) %}

with versions_unioned as (

    select * from {{ ref('int_user_value_versions_unioned') }}

),

scored as (

    -- Every version, also one that scored nobody (its fit failed or was skipped).
    select known.model_version, count(versions_unioned.user_id) as scored_users
    from (values {% for version in versions %}({{ version }}){{ ", " if not loop.last }}{% endfor %}) as known(model_version)
    left join versions_unioned on known.model_version = versions_unioned.model_version
    group by known.model_version

),

training_mean as (

    -- Every version splits the same labelled users with the same seed; any version's train rows do.
    select {{ exact_avg('features.future_net_spend') }} as mean_spend
    from (select distinct user_id from versions_unioned where split = 'train') as train
    inner join {{ ref('int_user_features_at_cutoff') }} as features
        on train.user_id = features.user_id

),

holdout as (

    select model_version, user_id, holdout_predicted_spend as predicted, holdout_actual_spend as actual
    from versions_unioned
    where split = 'holdout'

),

ranked as (

    -- Ties in the prediction go to the smaller user_id, as in src/ltv/metrics.py (a stable sort of
    -- users in id order).
    select
        holdout.*,
        count(*) over (partition by model_version) as holdout_users,
        -- Exact (ordered) sums: a double sum over a partition or group adds in whatever order DuckDB's
        -- threads combine their parts, which moved the last bits between two builds of the same data.
        cast(sum(cast(actual as decimal(38, 10))) over (partition by model_version) as double) as actual_total,
        sum(actual) over (partition by model_version order by predicted desc, user_id
                          rows between unbounded preceding and current row) as cumulative_by_prediction,
        sum(actual) over (partition by model_version order by actual desc, user_id
                          rows between unbounded preceding and current row) as cumulative_by_actual,
        row_number() over (partition by model_version order by predicted desc, user_id) as prediction_rank
    from holdout

),

measured as (

    select
        model_version,
        any_value(holdout_users) as holdout_users,
        -- Squared errors are no money: averaged in user order (the same bits every run) rather than as DECIMAL.
        sqrt({{ ltv_ordered_avg('power(predicted - actual, 2)', 'user_id') }}) as rmse,
        sqrt({{ ltv_ordered_avg('power((select mean_spend from training_mean) - actual, 2)', 'user_id') }}) as baseline_rmse,
        -- Normalized Gini: (Σ cumulative share − (n+1)/2) / n by prediction, over the same by actual.
        case when any_value(actual_total) <> 0 and {{ exact_sum('cumulative_by_actual') }} / any_value(actual_total) <> (count(*) + 1) / 2.0
            then ({{ exact_sum('cumulative_by_prediction') }} / any_value(actual_total) - (count(*) + 1) / 2.0)
                 / ({{ exact_sum('cumulative_by_actual') }} / any_value(actual_total) - (count(*) + 1) / 2.0)
        end as normalized_gini,
        case when any_value(actual_total) <> 0
            then cast(sum(cast(actual as decimal(38, 10))) filter (where prediction_rank <= ceil(round(0.2 * holdout_users, 9))) as double)
                 / any_value(actual_total)
        end as top20_capture,
        max(actual) = min(actual) as labels_are_constant,
        count(*) filter (where actual > 0) as holdout_spenders
    from ranked
    group by model_version

),

versions as (

    select
        scored.model_version,
        scored.scored_users,
        coalesce(measured.holdout_users, 0) as holdout_users,
        -- Undefined is NULL, never 0: under 50 holdout users nothing is measured; with every label
        -- equal there is no ranking to get right; under 10 holdout spenders a ranking is chance
        -- (MIN_RANKED_SPENDERS in src/ltv/metrics.py, as the registry's metric_status).
        case when measured.holdout_users >= 50 then measured.rmse end as holdout_rmse,
        case when measured.holdout_users >= 50 then measured.baseline_rmse end as baseline_rmse,
        case when measured.holdout_users >= 50 and not measured.labels_are_constant and measured.holdout_spenders >= 10
            then measured.normalized_gini end as holdout_normalized_gini,
        case when measured.holdout_users >= 50 and not measured.labels_are_constant and measured.holdout_spenders >= 10
            then measured.top20_capture end as holdout_top20_capture
    from scored
    left join measured on scored.model_version = measured.model_version

),

qualified as (

    select
        versions.*,
        holdout_rmse < baseline_rmse as beats_baseline,
        scored_users > 0 and holdout_rmse < baseline_rmse and holdout_{{ metric }} is not null as is_candidate
    from versions

),

chosen as (

    select
        coalesce(
            (select model_version from qualified where is_candidate
             order by holdout_{{ metric }} {{ 'asc' if metric == 'rmse' else 'desc' }}, model_version limit 1),
            (select min(model_version) from qualified where scored_users > 0)
        ) as champion_version,
        exists (select 1 from qualified where is_candidate) as chosen_on_holdout

)

select
    cast(qualified.model_version as integer) as model_version,
    cast(qualified.scored_users as bigint) as scored_users,
    cast(qualified.holdout_users as bigint) as holdout_users,
    cast(qualified.holdout_rmse as double) as holdout_rmse,
    cast(qualified.baseline_rmse as double) as baseline_rmse,
    cast(qualified.holdout_normalized_gini as double) as holdout_normalized_gini,
    cast(qualified.holdout_top20_capture as double) as holdout_top20_capture,
    cast(qualified.beats_baseline as boolean) as beats_baseline,
    cast(coalesce(qualified.model_version = chosen.champion_version, false) as boolean) as is_champion,
    cast(case
        when qualified.model_version <> chosen.champion_version or chosen.champion_version is null then null
        when chosen.chosen_on_holdout then
            'best holdout {{ metric }} among the versions that beat the training mean ({{ "lowest" if metric == "rmse" else "highest" }} wins; var ltv_champion_metric)'
        else 'last resort: no version was measured on 50+ holdout users and beat the training mean; the lowest version that scored users is served'
    end as string) as champion_reason
from qualified
cross join chosen
