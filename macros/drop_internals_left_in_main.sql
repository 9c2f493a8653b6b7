{#- on-run-start: the internals (base_, stg_, int_, ml_ relations) are built in the schemas staging,
    intermediate and ml, and main holds only what is public (dbt_project.yml, models:). A warehouse
    built by an ltv from before that layout still has its internals in main, where nothing rebuilds
    or reads them any more: stale copies beside the public tables, with raw texts among them. They
    are dropped here, before any model runs, so the first build after the upgrade leaves main as a
    fresh build would (that build recomputes the internals in their schemas; fitted models are
    reused, keyed by their training data, not by where a table lives).

    By the project's naming every base_/stg_/int_/ml_ relation in main is an internal left there
    (a model's table or view, the unsuffixed view on an ml_ model's latest version, a leftover
    <model>__dbt_tmp table), except one that this project builds in main now: none does, but
    should a public model ever take such a name it is never dropped. The registry's notes about the
    dropped tables (keyed by schema.table) go with them. Dropped through the adapter, so that dbt's
    relation cache, filled before this hook, forgets them too. -#}
{% macro drop_internals_left_in_main() -%}
    {{ return(adapter.dispatch('drop_internals_left_in_main')()) }}
{%- endmacro %}

{% macro default__drop_internals_left_in_main() %}
    {%- if not execute -%}{{ return('select 1') }}{%- endif -%}
    {%- set public_schema = target.schema -%}
    {%- set built_in_main = [] -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.schema == public_schema -%}
        {%- do built_in_main.extend([node.alias, node.name]) -%}
    {%- endfor -%}
    {%- set found = run_query("select table_name from information_schema.tables where table_catalog = current_database()"
                              ~ " and table_schema = '" ~ public_schema ~ "' and regexp_matches(table_name, '^(base|stg|int|ml)_')"
                              ~ " order by table_name") -%}
    {%- set dropped = [] -%}
    {%- for name in found.rows | map(attribute=0) if name not in built_in_main -%}
        {%- set relation = adapter.get_relation(database=target.database, schema=public_schema, identifier=name) -%}
        {%- if relation is not none -%}
            {%- do adapter.drop_relation(relation) -%}
            {%- do dropped.append(name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if dropped -%}
        {{ log("ltv: dropped " ~ dropped | length ~ " internal relations that an earlier ltv built in " ~ public_schema
               ~ " (they are built in staging, intermediate and ml now): " ~ dropped | join(', '), info=true) }}
        {%- set names = "'" ~ public_schema ~ "." ~ dropped | join("', '" ~ public_schema ~ ".") ~ "'" -%}
        {%- for registry_table in ['output_fingerprints', 'raw_rows_checked', 'changed_keys_state'] -%}
            {%- do run_query("delete from registry." ~ registry_table ~ " where relation_name in (" ~ names ~ ")") -%}
        {%- endfor -%}
        {%- do adapter.commit() -%}
    {%- endif -%}
    {{ return('select 1') }}
{% endmacro %}
