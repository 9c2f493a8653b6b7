{#- Post-hook of incremental Python models: dbt-duckdb 1.11 writes their new rows to a regular
    table <model>__dbt_tmp<timestamp> and never drops it, so every incremental run would leave one
    more table in the served warehouse. -#}
{% macro drop_incremental_staging_tables() %}
    {%- set leftovers = [] -%}
    {%- if execute -%}
        {%- set found = run_query(
            "select table_name from information_schema.tables where table_schema = '" ~ this.schema
            ~ "' and starts_with(table_name, '" ~ this.identifier ~ "__dbt_tmp')") -%}
        {%- set leftovers = found.columns[0].values() -%}
    {%- endif -%}
    {%- for table_name in leftovers %}
    drop table if exists "{{ this.schema }}"."{{ table_name }}";
    {%- endfor %}
    select 1
{% endmacro %}
