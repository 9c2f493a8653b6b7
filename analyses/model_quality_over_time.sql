-- Every fit's holdout quality across builds, newest first, per model and version.
select
    model_name, model_version, method, status, trained_at, cutoff_date, train_rows, holdout_rows,
    rmse, baseline_rmse, normalized_gini, top20_capture, spearman,
    ndcg_at_10, precision_at_10, auc_positive_vs_negative, spearman_with_rating, mse, r2, message
from {{ ref('fct_model_runs') }}
order by model_name, model_version, trained_at desc
