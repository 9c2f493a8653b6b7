{#- Post-hook of incremental Python models: dbt-duckdb 1.11 writes their new rows to a regular
    table <model>__dbt_tmp<timestamp> and never drops it, so every incremental run would leave one
    more table in the served warehouse. That table is created without a schema, so it lands in the
    connection's default schema (main), not in the model's own (ml): both are searched. -#}
{% macro drop_incremental_staging_tables() %}
    {{- return(adapter.dispatch('drop_incremental_staging_tables')()) -}}
{% endmacro %}

{% macro default__drop_incremental_staging_tables() %}
    {%- set leftovers = [] -%}
    {%- if execute -%}
        {%- set found = run_query(
            "select table_schema, table_name from information_schema.tables where table_catalog = current_database()"
            ~ " and table_schema in ('" ~ this.schema ~ "', current_schema())"
            ~ " and starts_with(table_name, '" ~ this.identifier ~ "__dbt_tmp')") -%}
        {%- set leftovers = found.rows -%}
    {%- endif -%}
    {%- for schema_name, table_name in leftovers %}
    drop table if exists "{{ schema_name }}"."{{ table_name }}";
    {%- endfor %}
    select 1
{% endmacro %}
