{#- The run registry's storage: an append-only log that fitted models write to (src/ltv/registry.py)
    and that dbt never drops, so quality over time survives full refreshes. fct_model_runs is the
    contracted view BI reads. dbt_invocations lets a Python model learn the invocation id, which
    dbt does not hand to Python models. -#}
{% macro create_model_run_log() -%}
    {{ return(adapter.dispatch('create_model_run_log')()) }}
{%- endmacro %}

{% macro default__create_model_run_log() %}
    create schema if not exists registry;
    create table if not exists registry.model_run_log (
        run_id varchar not null primary key,
        model_name varchar not null,
        model_version varchar not null,
        method varchar,
        status varchar not null,
        message varchar,
        invocation_id varchar,
        trained_at timestamp not null,
        cutoff_date date,
        horizon_days integer,
        train_rows bigint,
        holdout_rows bigint,
        parameters_json json,
        metrics_json json
    );
    -- Fitted models by the fingerprint of their training data, so a rebuild reuses a model instead
    -- of fitting it again when its training data did not change (src/ltv/build_cache.py).
    create table if not exists registry.fitted_models (
        model_name varchar not null,
        model_version varchar not null,
        training_fingerprint varchar not null,
        trained_at timestamp not null,
        model_bytes blob not null,
        primary key (model_name, model_version, training_fingerprint)
    );
    -- The input fingerprint of the table a model last wrote; confirmed by the model's post-hook
    -- (confirm_output_fingerprint) only after dbt wrote the table.
    create table if not exists registry.output_fingerprints (
        relation_name varchar not null primary key,
        fingerprint varchar not null,
        invocation_id varchar,
        confirmed boolean not null,
        recorded_at timestamp not null
    );
    -- For each base table read from a row-numbered (Parquet) source: how many source rows its last
    -- table checked and their fingerprint, so that a rebuild after rows were appended checks only
    -- the new ones (macros/quarantine.sql, raw_rows_check_plan). rows_checked is null while the
    -- table is being rewritten. last_full_check_at: when every row was last checked, the only kind
    -- of build after which the table's accepted keys may be fewer than before.
    create table if not exists registry.raw_rows_checked (
        relation_name varchar not null primary key,
        code_fingerprint varchar not null,
        rows_checked bigint,
        rows_fingerprint varchar,
        last_full_check_at timestamp not null,
        invocation_id varchar,
        recorded_at timestamp not null
    );
    -- For each changed_keys_table: the fingerprints of the SQL and inputs its table was built from,
    -- and checked_through, the start of that build: base rows checked later are what changed since.
    -- checked_through is null while the whole table is being rebuilt.
    create table if not exists registry.changed_keys_state (
        relation_name varchar not null primary key,
        code_fingerprint varchar not null,
        inputs_fingerprint varchar not null,
        checked_through timestamp,
        invocation_id varchar,
        recorded_at timestamp not null
    );
    create table if not exists registry.dbt_invocations (
        invocation_id varchar not null primary key,
        started_at timestamp not null
    );
    insert into registry.dbt_invocations
    select '{{ invocation_id }}', current_timestamp::timestamp
    where not exists (select 1 from registry.dbt_invocations where invocation_id = '{{ invocation_id }}')
{% endmacro %}


{#- Post-hook of the Python models that reuse their previous output (src/ltv/build_cache.py): the
    table is written, so the fingerprint this build noted for it now describes it. -#}
{% macro confirm_output_fingerprint() %}
    {{ return(adapter.dispatch('confirm_output_fingerprint')()) }}
{% endmacro %}

{% macro default__confirm_output_fingerprint() %}
    update registry.output_fingerprints
    set confirmed = true
    where relation_name = '{{ this.schema }}.{{ this.identifier }}'
      and invocation_id = '{{ invocation_id }}'
{% endmacro %}

