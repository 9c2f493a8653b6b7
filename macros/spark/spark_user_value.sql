{#- The user-value branch's hooks on Spark (target spark; see README: Running on Spark). A Spark session
    runs one statement per call, so a hook runs its statements itself and renders a no-op. -#}

{#- fct_user_value_versions' post-hook: the served view with its comment. Spark keeps no column
    comments on Parquet tables (dbt-spark persists them for Delta only), so there are none to copy. -#}
{% macro spark__create_served_user_value_view() %}
    {#- Rendered at parse time too, so that dbt learns the refs in it. -#}
    {%- set served_sql = served_user_value_predictions_sql(versions_relation=this) -%}
    {%- if execute -%}
        {%- do run_query("create or replace view " ~ this.schema ~ ".fct_user_value_predictions comment '"
                         ~ served_user_value_view_comment() | replace("'", "\\'") ~ "' as " ~ served_sql) -%}
    {%- endif -%}
    {{ return('select 1') }}
{% endmacro %}
