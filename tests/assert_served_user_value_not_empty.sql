-- The product's main answer is never silently empty: when users have completed orders, the served
-- user-value predictions (the champion's, in dim_users and the unsuffixed
-- fct_user_value_predictions) cover them. An error, not a warning: a green build whose main
-- output is empty is a defect.
select
    'users with completed orders exist but no user-value prediction is served (see fct_user_value_versions and fct_model_runs for why each version did not score)' as finding
where exists (select 1 from {{ ref('fct_orders') }} where status = 'completed')
  and not exists (select 1 from {{ ref('dim_users') }} where predicted_spend is not null)
