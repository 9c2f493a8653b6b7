{#-
  A table that dbt rebuilds only when what it reads changed: its compiled SQL, and the rows of every
  relation it selects from (an order-independent hash computed inside DuckDB, about a second for 15
  million rows). Otherwise the table the last build wrote is kept as it is: that is the table a
  rebuild would produce. For the base tables, whose quarantine checks cost far more than hashing
  their raw input, so a rebuild after new orders does not re-check fifteen million unchanged events.

  When the inputs did change but a base model's compiled SQL carries a rows_to_check plan that says
  only rows were appended to its Parquet source (macros/quarantine.sql), just the new rows and the
  rows they can affect are checked, and they replace those keys' rows (replace_rechecked_rows).

  The fingerprint is stored in registry.output_fingerprints only after the table was written.
  var ltv_reuse_unchanged_work=false (or --full-refresh) rebuilds regardless.
-#}
{% materialization fingerprinted_table, adapter='duckdb', supported_languages=['sql'] %}
  {%- set relation_name = this.schema ~ '.' ~ this.identifier -%}
  {%- set fingerprint = model_input_fingerprint() -%}
  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set stored = run_query("select fingerprint from registry.output_fingerprints where confirmed and relation_name = '"
                             ~ relation_name ~ "'") -%}
  {%- set unchanged = existing_relation is not none and existing_relation.is_table
                      and stored.rows | length == 1 and stored.rows[0][0] == fingerprint -%}
  {%- set raw_rows_plan = raw_rows_plan_in(compiled_code) -%}
  {#- A base table (base_shop__<raw table>) with rows that were dated after the build's day and are
      inside the valid window now is not current even if its inputs are the same: those rows are
      checked again (macros/quarantine.sql, back_in_range_condition). -#}
  {%- set raw_table_name = this.identifier | replace('base_shop__', '') -%}
  {%- if unchanged and raw_table_name in raw_contract() -%}
    {%- set back_in_range = run_query("select count(*) from " ~ this ~ " where " ~ back_in_range_condition(raw_table_name)) -%}
    {%- set unchanged = back_in_range.rows[0][0] == 0 -%}
  {%- endif -%}

  {%- if unchanged and validated_boolean_var('ltv_reuse_unchanged_work') and not should_full_refresh() -%}
    {{ log("Inputs of " ~ relation_name ~ " unchanged since the last build: table kept", info=false) }}
    {#- The kept table reflects the source as the plan just measured it. -#}
    {%- if raw_rows_plan is not none -%}
      {% do record_raw_rows_checked(relation_name, raw_rows_plan, full_check=false) %}
    {%- endif -%}
    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}
    {%- call statement('main') -%}
      select 'kept: inputs unchanged' as status
    {%- endcall -%}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {% do adapter.commit() %}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {{ return({'relations': [this.incorporate(type='table')]}) }}
  {%- endif -%}

  {#- Forget the old fingerprints first: if the build fails, nothing claims the old table is current. -#}
  {% do run_query("delete from registry.output_fingerprints where relation_name = '" ~ relation_name ~ "'") %}
  {% do run_query("update registry.raw_rows_checked set rows_checked = null, rows_fingerprint = null where relation_name = '"
                  ~ relation_name ~ "'") %}
  {%- set appending = raw_rows_plan is not none and raw_rows_plan['first_new_row'] != 'all'
                      and existing_relation is not none and existing_relation.is_table -%}
  {%- if appending -%}
    {%- set result = replace_rechecked_rows(raw_rows_plan['keys'].split(',')) -%}
  {%- else -%}
    {%- set result = materialization_table_duckdb() -%}
  {%- endif -%}
  {% do run_query("insert or replace into registry.output_fingerprints values ('" ~ relation_name ~ "', '"
                  ~ fingerprint ~ "', '" ~ invocation_id ~ "', true, current_timestamp::timestamp)") %}
  {%- if raw_rows_plan is not none -%}
    {% do record_raw_rows_checked(relation_name, raw_rows_plan, full_check=not appending) %}
  {%- endif -%}
  {% do adapter.commit() %}
  {{ return(result) }}
{% endmaterialization %}


{#- The append path of a base table (macros/quarantine.sql): the compiled SQL returns fresh verdicts
    for the new raw rows and for every row sharing a key with them or waiting for a parent key;
    those keys' old rows are replaced by them, all other rows stay as the last build wrote them. -#}
{% macro replace_rechecked_rows(key_columns) %}
  {%- set rechecked = this.incorporate(path={'identifier': this.identifier ~ '__rechecked'}) -%}
  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}
  {% do run_query("drop table if exists " ~ rechecked) %}
  {% do run_query("create table " ~ rechecked ~ " as " ~ compiled_code) %}
  {%- set key_matches = [] -%}
  {%- for key_column in key_columns -%}
    {%- do key_matches.append('kept.' ~ key_column ~ ' = rechecked.' ~ key_column) -%}
  {%- endfor -%}
  {% do run_query("delete from " ~ this ~ " as kept using " ~ rechecked ~ " as rechecked where " ~ key_matches | join(' and ')) %}
  {%- call statement('main') -%}
    insert into {{ this }} by name select * from {{ rechecked }}
  {%- endcall -%}
  {% do run_query("drop table " ~ rechecked) %}
  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {% do adapter.commit() %}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': [this.incorporate(type='table')]}) }}
{% endmacro %}


{#- What the table now reflects: the source rows the plan measured. A full check moves
    last_full_check_at; appending or keeping the table does not (a first record counts as full). -#}
{% macro record_raw_rows_checked(relation_name, raw_rows_plan, full_check) %}
  {% do run_query("insert into registry.raw_rows_checked values ('" ~ relation_name ~ "', '"
                  ~ raw_rows_plan['code_fingerprint'] ~ "', " ~ raw_rows_plan['rows'] ~ ", '" ~ raw_rows_plan['rows_fingerprint']
                  ~ "', current_timestamp::timestamp, '" ~ invocation_id ~ "', current_timestamp::timestamp)"
                  ~ " on conflict (relation_name) do update set code_fingerprint = excluded.code_fingerprint,"
                  ~ " rows_checked = excluded.rows_checked, rows_fingerprint = excluded.rows_fingerprint,"
                  ~ " last_full_check_at = " ~ ("excluded.last_full_check_at" if full_check else "raw_rows_checked.last_full_check_at")
                  ~ ", invocation_id = excluded.invocation_id, recorded_at = excluded.recorded_at") %}
{% endmacro %}


{#- The rows_to_check plan that validated_raw_rows() wrote into a base model's compiled SQL (see
    macros/quarantine.sql), as a dict; none for SQL without one. -#}
{% macro raw_rows_plan_in(sql) %}
  {%- set found = modules.re.search('/\\* ltv:rows_to_check ([^*]*) \\*/', sql) -%}
  {%- if found is none -%}{{ return(none) }}{%- endif -%}
  {%- set plan = {} -%}
  {%- for pair in found.group(1).split(' ') -%}
    {%- set name, value = pair.split('=', 1) -%}
    {%- do plan.update({name: value}) -%}
  {%- endfor -%}
  {{ return(plan) }}
{% endmacro %}


{#- The fingerprint of a model's inputs: its compiled SQL and the content hash of each relation it
    depends on (models, seeds and sources alike). -#}
{% macro model_input_fingerprint() %}
  {%- set parts = [without_build_sections(compiled_code)] -%}
  {#- A base model's rows_to_check plan already hashed its raw source this build, the same way
      (count, sum and xor of row hashes): hashing 15.7M events again cost a second of CPU. -#}
  {%- set raw_rows_plan = raw_rows_plan_in(compiled_code) -%}
  {#- base_shop__raw_tables says where raw data is read from, not what it holds: the rows read are
      hashed through the raw relations themselves, so a shop moved to another folder is unchanged. -#}
  {%- for node_id in model.depends_on.nodes | reject('equalto', 'model.ltv.base_shop__raw_tables') | sort -%}
    {%- set node = graph.sources[node_id] if node_id.startswith('source.') else graph.nodes[node_id] -%}
    {%- set relation = raw_source_relation(node) if node_id.startswith('source.') else node.relation_name -%}
    {%- if node_id.startswith('source.') and not raw_relation_exists(relation) -%}
      {#- An optional raw table the shop does not have (its empty stand-in is read instead). -#}
      {%- do parts.append(node_id ~ ':absent') -%}
    {%- elif raw_rows_plan is not none and raw_rows_plan.get('source') == relation | string -%}
      {%- do parts.append(node_id ~ ':' ~ raw_rows_plan['rows_fingerprint']) -%}
    {%- else -%}
      {%- set hashed = run_query("select count(*), coalesce(sum(hash(parent)), 0), coalesce(bit_xor(hash(parent, 'xor')), 0) from "
                                 ~ relation ~ " as parent") -%}
      {%- do parts.append(node_id ~ ':' ~ (hashed.rows[0] | join(','))) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(local_md5(parts | join('|'))) }}
{% endmacro %}


{#- The parts of compiled SQL that describe this build rather than what the table holds: a base
    model's rows_to_check plan (how this build checks rows) and its build_started_at stamp. -#}
{% macro without_build_sections(sql) %}
  {{ return(modules.re.sub('/\\* ltv:(rows_to_check|build_started_at)\\b.*?/\\* ltv:end \\*/', '', sql, flags=modules.re.DOTALL)) }}
{% endmacro %}


{#- This build's start (UTC, as dbt's run_started_at), as a timestamp literal between markers that
    without_build_sections drops: a table that stamps its rows with it is not "changed" by the stamp. -#}
{% macro build_started_at() -%}
  /* ltv:build_started_at */ cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp) /* ltv:end */
{%- endmacro %}
