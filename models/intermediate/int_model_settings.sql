-- One row: the dates and settings every feature and fitted model uses, from validated vars.
-- Python models read their settings here (dbt cannot hand vars to Python models directly), so
-- a setting's lineage is visible and its value is validated in one place.
{%- set cutoff_var = validated_date_var('ltv_cutoff_date', allow_empty=true) %}
{%- set horizon_days = validated_number_var('ltv_horizon_days', minimum=0, integer=true, exclusive_minimum=true) %}

with latest_order as (

    select max(ordered_on) as latest_order_date
    from {{ ref('stg_shop__orders') }}

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
    scoring_date,
    {{ horizon_days }} as horizon_days,
    cast({{ validated_number_var('ltv_holdout_share', minimum=0, maximum=0.9, exclusive_minimum=true) }} as double) as holdout_share,
    {{ validated_number_var('ltv_random_seed', minimum=0, integer=true) }} as random_seed,
    {{ validated_number_var('ltv_min_labelled_users', minimum=2, integer=true) }} as min_labelled_users,
    {{ validated_number_var('ltv_similarity_top_k', minimum=1, maximum=1000, integer=true) }} as similarity_top_k,
    {{ validated_number_var('ltv_recommendations_top_n', minimum=1, maximum=1000, integer=true) }} as recommendations_top_n,
    cast({{ validated_number_var('ltv_bm25_k1', minimum=0) }} as double) as bm25_k1,
    cast({{ validated_number_var('ltv_bm25_b', minimum=0, maximum=1) }} as double) as bm25_b,
    {{ validated_number_var('ltv_max_text_characters', minimum=1, integer=true) }} as max_text_characters,
    -- --full-refresh recomputes everything, as it does for dbt's own incremental models.
    {{ validated_boolean_var('ltv_reuse_unchanged_work') and not flags.FULL_REFRESH }} as reuse_unchanged_work
from dates
