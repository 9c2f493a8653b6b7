{{ config(severity='warn') }}
-- Names every model version whose latest fit in the registry did not beat its trivial baseline
-- (user value: holdout RMSE not below predicting the training mean; recommendations: NDCG@10 not
-- above popularity's). A warning, not an error: such a version still builds and stays queryable,
-- but it should not be trusted (or served) over the baseline.
with latest_runs as (

    select
        model_name,
        model_version,
        coalesce(method, '') as method,
        beats_baseline,
        rmse,
        baseline_rmse,
        ndcg_at_10,
        baseline_ndcg_at_10,
        row_number() over (
            partition by model_name, model_version, coalesce(method, '') order by trained_at desc, run_id
        ) as runs_ago
    from {{ ref('fct_model_runs') }}
    where status = 'fitted'

)

select
    model_name || ' v' || model_version || ' does not beat its baseline: '
        || case
            when model_name = 'user_value' then 'holdout RMSE ' || round(rmse, 2) || ' vs training-mean RMSE ' || round(baseline_rmse, 2)
            else 'NDCG@10 ' || round(ndcg_at_10, 4) || ' vs popularity ' || round(baseline_ndcg_at_10, 4)
        end as finding
from latest_runs
where runs_ago = 1 and beats_baseline = false
