{#- Rows of literals and unions that DuckDB and Spark spell differently, dispatched on the target's
    adapter as in engine_sql.sql (spark__: macros/spark/spark_sql_sets.sql). The default__ versions
    render the very SQL the models had before, so the DuckDB build is unchanged. -#}

{#- One row per literal value: `select {{ ltv_unnest_values([1, 2]) }} as name`. -#}
{% macro ltv_unnest_values(values) -%}
    {{ return(adapter.dispatch('ltv_unnest_values')(values)) }}
{%- endmacro %}
{% macro default__ltv_unnest_values(values) -%}
    unnest([{{ values | join(', ') }}])
{%- endmacro %}

{#- Every row of every relation, columns matched by name (the relations have the same columns). -#}
{% macro ltv_union_all_by_name(relations) -%}
    {{ return(adapter.dispatch('ltv_union_all_by_name')(relations)) }}
{%- endmacro %}
{% macro default__ltv_union_all_by_name(relations) -%}
    {%- for relation in relations %}

    select *
    from {{ relation }}
    {{ "union all by name" if not loop.last }}
    {%- endfor %}
{%- endmacro %}
