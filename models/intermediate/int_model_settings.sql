-- One row: the dates and settings every feature and fitted model uses, from validated vars.
-- Python models read their settings here (dbt cannot hand vars to Python models directly), so
-- a setting's lineage is visible and its value is validated in one place.
{%- set cutoff_var = validated_date_var('ltv_cutoff_date', allow_empty=true) %}
{%- set horizon_days = number_setting('ltv_horizon_days') %}

with latest_order as (

    -- The latest order date; a shop with no accepted order (yet) is scored as of its latest
    -- activity of any kind, so its users still get features and a segment.
    select coalesce(
        (select max(ordered_on) from {{ ref('stg_shop__orders') }}),
        (select max(activity_on) from {{ ref('int_user_activities_unioned') }})
    ) as latest_order_date

),

dates as (

    select
        latest_order_date as scoring_date,
        {% if cutoff_var %}
        date '{{ cutoff_var }}' as cutoff_date
        {% else %}
        cast(latest_order_date - interval {{ horizon_days }} day as date) as cutoff_date
        {% endif %}
    from latest_order

)

select
    cutoff_date,
    cast(cutoff_date + interval {{ horizon_days }} day as date) as label_end_date,
    -- Tuning looks one horizon further back: hyperparameters are chosen on what happened in
    -- (validation_cutoff_date, cutoff_date], so the holdout after the cut-off is seen only once.
    cast(cutoff_date - interval {{ horizon_days }} day as date) as validation_cutoff_date,
    scoring_date,
    {{ horizon_days }} as horizon_days,
    cast({{ number_setting('ltv_holdout_share') }} as double) as holdout_share,
    {{ number_setting('ltv_random_seed') }} as random_seed,
    {{ number_setting('ltv_min_labelled_users') }} as min_labelled_users,
    {{ number_setting('ltv_similarity_top_k') }} as similarity_top_k,
    {{ number_setting('ltv_recommendations_top_n') }} as recommendations_top_n,
    cast({{ number_setting('ltv_bm25_k1') }} as double) as bm25_k1,
    cast({{ number_setting('ltv_bm25_b') }} as double) as bm25_b,
    {{ number_setting('ltv_max_text_characters') }} as max_text_characters,
    '{{ validated_region_var('ltv_phone_default_region') }}' as phone_default_region,
    -- --full-refresh recomputes everything, as it does for dbt's own incremental models.
    {{ validated_boolean_var('ltv_reuse_unchanged_work') and not flags.FULL_REFRESH }} as reuse_unchanged_work
from dates
