{{ config(severity='warn') }}
-- Warns when a model version's latest fit is more than 10% worse than its previous fit on RMSE
-- or on normalized Gini (the registry keeps every fit, so a regression shows up here first).
with fitted_runs as (

    select
        model_name,
        model_version,
        coalesce(method, '') as method,
        trained_at,
        rmse,
        normalized_gini,
        row_number() over (
            partition by model_name, model_version, coalesce(method, '') order by trained_at desc, run_id
        ) as runs_ago
    from {{ ref('fct_model_runs') }}
    where status = 'fitted'

),

latest as (select * from fitted_runs where runs_ago = 1),

previous as (select * from fitted_runs where runs_ago = 2)

select
    latest.model_name,
    latest.model_version,
    latest.method,
    previous.rmse as previous_rmse,
    latest.rmse as latest_rmse,
    previous.normalized_gini as previous_gini,
    latest.normalized_gini as latest_gini
from latest
inner join previous
    on latest.model_name = previous.model_name
   and latest.model_version = previous.model_version
   and latest.method = previous.method
where latest.rmse > previous.rmse * 1.10
   or latest.normalized_gini < previous.normalized_gini - abs(previous.normalized_gini) * 0.10
