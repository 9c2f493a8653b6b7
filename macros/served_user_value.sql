{#- The user-value predictions BI is served: those of the champion version (fct_user_value_versions,
    chosen on this build's holdout), in the columns and types every fct_user_value_predictions_vN shares. dim_users reads this, and
    fct_user_value_versions' post-hook makes the unsuffixed fct_user_value_predictions a view of it. -#}
{% macro served_user_value_predictions_sql(versions=[1, 2, 3], versions_relation=none) -%}
    {#- versions_relation: fct_user_value_versions itself, when its own post-hook calls this (a ref
        to itself would be a cycle). -#}
    {%- set versions_relation = versions_relation or ref('fct_user_value_versions') -%}
    {%- for version in versions %}
    select
        cast(user_id as varchar) as user_id,
        cast(model_version as integer) as model_version,
        cast(predicted_spend as double) as predicted_spend,
        cast(value_decile as integer) as value_decile,
        cast(scored_at as timestamp) as scored_at
    from {{ ref('ml_user_value', v=version) }}
    where {{ version }} = (select model_version from {{ versions_relation }} where is_champion)
    {{ "union all" if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- fct_user_value_versions' post-hook: the unsuffixed fct_user_value_predictions serves the champion
    (not the latest version, which may not have fitted or may be worse). -#}
{% macro create_served_user_value_view() %}
    create or replace view {{ this.schema }}.fct_user_value_predictions as
    {{ served_user_value_predictions_sql(versions_relation=this) }}
{% endmacro %}
