{#- The project's own materializations on Spark: a plain table, rebuilt in full every time.

    fingerprinted_table (skip when inputs are unchanged, or check only appended rows), keyed_table
    (rewrite only changed keys) and changed_keys_table (recompute only keys with newly checked base
    rows) save work on one machine through DuckDB features Spark's Parquet tables lack: DELETE and
    INSERT ... BY NAME on a table, hash() of a whole row, duckdb_views(). Their result is by design
    exactly what a full rebuild writes, so rebuilding in full gives the same tables; what is lost on
    Spark is only the saving. On a cluster with Delta or Iceberg (MERGE, DELETE) they could be ported.
    The registry tables they keep on DuckDB stay empty here. -#}
{% materialization fingerprinted_table, adapter='spark', supported_languages=['sql'] %}
  {{ return(materialization_table_spark()) }}
{% endmaterialization %}

{% materialization keyed_table, adapter='spark', supported_languages=['sql'] %}
  {{ return(materialization_table_spark()) }}
{% endmaterialization %}

{% materialization changed_keys_table, adapter='spark', supported_languages=['sql'] %}
  {{ return(materialization_table_spark()) }}
{% endmaterialization %}

{#- ml_text_sentiment is a table on Spark (its config in models/marts/ml/_ml__models.yml): no staging
    table is left behind to drop. -#}
{% macro spark__drop_incremental_staging_tables() %}
    select 1
{% endmacro %}

{#- Rebuilt in full every time: no key filter is needed (in_changed_keys is `true`). -#}
{% macro spark__recomputes_every_key() %}
  {{ return(true) }}
{% endmacro %}

{#- Rebuilt in full every time, so every base row counts as checked since the last build. -#}
{% macro spark__checked_since_last_build(table_alias) -%}
  true
{%- endmacro %}
