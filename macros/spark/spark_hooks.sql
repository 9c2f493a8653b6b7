{#- The Spark versions of the run hooks and catalog questions (target spark; see README: Running on
    Spark). A Spark session runs one statement per call, so a hook runs its statements itself and
    renders a no-op. -#}

{#- The run registry (macros/model_run_log.sql) as Parquet tables: Spark has no primary keys or
    JSON type (JSON is kept as text) and no NOT NULL on Parquet tables; the columns are the same. -#}
{% macro spark__create_model_run_log() %}
    {%- if not execute -%}{{ return('select 1') }}{%- endif -%}
    {%- set tables = {
        'model_run_log': 'run_id string, model_name string, model_version string, method string, status string,'
                         ~ ' message string, invocation_id string, trained_at timestamp, cutoff_date date,'
                         ~ ' horizon_days int, train_rows bigint, holdout_rows bigint, parameters_json string,'
                         ~ ' metrics_json string',
        'fitted_models': 'model_name string, model_version string, training_fingerprint string, trained_at timestamp,'
                         ~ ' model_bytes binary',
        'output_fingerprints': 'relation_name string, fingerprint string, invocation_id string, confirmed boolean,'
                               ~ ' recorded_at timestamp',
        'raw_rows_checked': 'relation_name string, code_fingerprint string, rows_checked bigint, rows_fingerprint string,'
                            ~ ' last_full_check_at timestamp, invocation_id string, recorded_at timestamp',
        'changed_keys_state': 'relation_name string, code_fingerprint string, inputs_fingerprint string,'
                              ~ ' checked_through timestamp, invocation_id string, recorded_at timestamp',
        'dbt_invocations': 'invocation_id string, started_at timestamp',
    } -%}
    {%- do run_query("create schema if not exists registry") -%}
    {%- for table_name, columns in tables.items() -%}
        {%- do run_query("create table if not exists registry." ~ table_name ~ " (" ~ columns ~ ") using parquet") -%}
    {%- endfor -%}
    {%- do run_query("insert into registry.dbt_invocations select '" ~ invocation_id ~ "', current_timestamp()"
                     ~ " where not exists (select 1 from registry.dbt_invocations where invocation_id = '" ~ invocation_id ~ "')") -%}
    {{ return('select 1') }}
{% endmacro %}

{#- Both clean up after DuckDB warehouses built by older ltv versions (file views in raw, internals in
    main); no Spark warehouse predates the current layout. -#}
{% macro spark__drop_file_views_in_the_seed_schema() %}
    {{ return('select 1') }}
{% endmacro %}

{% macro spark__drop_internals_left_in_main() %}
    {{ return('select 1') }}
{% endmacro %}

{#- Spark has no information_schema: its catalog is asked with SHOW. -#}
{% macro spark__raw_relation_exists(relation) -%}
    {%- set schemas = run_query("show schemas like '" ~ relation.schema ~ "'") -%}
    {%- if schemas.rows | length == 0 -%}{{ return(false) }}{%- endif -%}
    {%- set found = run_query("show tables in " ~ relation.schema ~ " like '" ~ relation.identifier ~ "'") -%}
    {{ return(found.rows | length > 0) }}
{%- endmacro %}
