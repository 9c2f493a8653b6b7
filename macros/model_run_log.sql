{#- The run registry's storage: an append-only log that fitted models write to (src/ltv/registry.py)
    and that dbt never drops, so quality over time survives full refreshes. fct_model_runs is the
    contracted view BI reads. dbt_invocations lets a Python model learn the invocation id, which
    dbt does not hand to Python models. -#}
{% macro create_model_run_log() %}
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
    -- Fitted text models by the fingerprint of their training data, so a rebuild reuses the model
    -- instead of retraining when the training data did not change.
    create table if not exists registry.text_models (
        model_name varchar not null,
        model_version varchar not null,
        training_fingerprint varchar not null,
        trained_at timestamp not null,
        model_bytes blob not null,
        primary key (model_name, model_version, training_fingerprint)
    );
    create table if not exists registry.dbt_invocations (
        invocation_id varchar not null primary key,
        started_at timestamp not null
    );
    insert into registry.dbt_invocations
    select '{{ invocation_id }}', current_timestamp::timestamp
    where not exists (select 1 from registry.dbt_invocations where invocation_id = '{{ invocation_id }}')
{% endmacro %}
