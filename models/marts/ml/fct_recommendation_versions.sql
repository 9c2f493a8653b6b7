-- One row per behaviour-similarity version behind the recommendations: its offline evaluation
-- (ml_recommendation_evaluation: train up to the cut-off, test on first purchases after it, of a
-- sample of the test users in a large shop, hence NDCG@10's standard error beside it), the
-- popularity baseline on the same users, and which version is the champion that the unsuffixed
-- fct_user_recommendations, fct_item_similarities and dim_users serve.
-- The rule: among the versions whose evaluation is defined (metric_status ok: 50+ evaluated users,
-- 2+ items) and beats popularity on NDCG@10, the highest NDCG@10; ties go to the lower version. If
-- none beats popularity (a shop without co-purchase structure), the defined version with the highest
-- NDCG@10 is still the best list there is and is served, its beats_baseline false saying so; only
-- when no evaluation is defined is v1 (plain cosine, the published method) the last resort.
{{ config(post_hook="{{ create_served_recommendations_view() }}") }}
-- The post-hook serves the champion's recommendations through the unsuffixed name:
-- depends_on: {{ ref('fct_user_recommendations', v=1) }}
-- depends_on: {{ ref('fct_user_recommendations', v=2) }}
-- depends_on: {{ ref('fct_user_recommendations', v=3) }}
-- and joins the items' titles and categories for display:
-- depends_on: {{ ref('dim_items') }}
{%- set versions = [1, 2, 3] %}

with evaluation as (

    select
        cast(known.model_version as integer) as model_version,
        evaluation.method,
        evaluation.users_evaluated,
        evaluation.test_users,
        evaluation.ndcg_at_10,
        evaluation.ndcg_at_10_standard_error,
        evaluation.baseline_ndcg_at_10,
        evaluation.metric_status,
        evaluation.beats_baseline
    from (values {% for version in versions %}('{{ version }}'){{ ", " if not loop.last }}{% endfor %}) as known(model_version)
    left join {{ ref('ml_recommendation_evaluation') }} as evaluation
        on evaluation.model_version = known.model_version

),

chosen as (

    select
        coalesce(
            (select model_version from evaluation
             where metric_status = 'ok' and beats_baseline
             order by ndcg_at_10 desc, model_version limit 1),
            (select model_version from evaluation
             where metric_status = 'ok'
             order by ndcg_at_10 desc, model_version limit 1),
            1
        ) as champion_version,
        exists (select 1 from evaluation where metric_status = 'ok' and beats_baseline) as chosen_on_evaluation,
        exists (select 1 from evaluation where metric_status = 'ok') as evaluated

)

select
    cast(evaluation.model_version as integer) as model_version,
    cast(evaluation.method as string) as method,
    cast(evaluation.users_evaluated as bigint) as users_evaluated,
    cast(evaluation.test_users as bigint) as test_users,
    cast(evaluation.ndcg_at_10 as double) as ndcg_at_10,
    cast(evaluation.ndcg_at_10_standard_error as double) as ndcg_at_10_standard_error,
    cast(evaluation.baseline_ndcg_at_10 as double) as baseline_ndcg_at_10,
    cast(evaluation.metric_status as string) as metric_status,
    cast(evaluation.beats_baseline as boolean) as beats_baseline,
    cast(evaluation.model_version = chosen.champion_version as boolean) as is_champion,
    cast(case
        when evaluation.model_version <> chosen.champion_version then null
        when chosen.chosen_on_evaluation then 'highest offline NDCG@10 among the versions that beat popularity'
        when chosen.evaluated then 'no version beat popularity on NDCG@10: the highest offline NDCG@10 is served'
        else 'last resort: no version was evaluated on 50+ users; v1 (plain cosine) is served'
    end as string) as champion_reason
from evaluation
cross join chosen
