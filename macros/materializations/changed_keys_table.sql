{#-
  A table whose rows are recomputed only for the keys that have base rows checked since it was last
  built. Base tables stamp every row they check with checked_at (macros/quarantine.sql) and a rebuild
  after rows were appended checks only those rows and the rows they affect, so the keys behind them
  are all that can have changed downstream. An aggregate over ten million order lines then costs what
  the day's new lines cost, not what all of them cost.

  The model's SQL says which keys changed and restricts its work to them:

      with changed_orders as (
          {% call changed_keys() %}
          select order_id from {{ ref('base_shop__orders') }} where {{ checked_since_last_build() }}
          union
          select order_id from {{ ref('base_shop__order_items') }} where {{ checked_since_last_build() }}
          {% endcall %}
      )
      select ... where {{ in_changed_keys('order_id', 'changed_orders') }}

  The changed_keys section must be a complete select of the unique_key columns, on its own (the
  materialization runs it again to know which keys to delete), and must read every base table the
  model depends on, directly or through a staging view. Every row of a changed key is deleted and
  the model's rows for those keys inserted; keys without rows any more are thereby removed.
  in_changed_keys() is `order_id in (select order_id from changed_orders)`, or `true` when the build
  recomputes every key anyway (see the macro): the code fingerprint reads it as the former either way.

  Before the last build there is no "since": every base row counts as checked since, every key is
  recomputed and the whole table is written (dbt-duckdb's table materialization). That also happens
  with --full-refresh or var ltv_reuse_unchanged_work=false; when the compiled SQL, the definition of
  a staging view it reads or the content of any other input changed; when a base table it reads was
  checked in full since (a row may then have changed or gone anywhere); and when the columns changed.

  State per table: registry.changed_keys_state (code and inputs fingerprints, checked_through).
-#}
{% materialization changed_keys_table, adapter='duckdb', supported_languages=['sql'] %}
  {%- set unique_key = config.require('unique_key') -%}
  {%- set key_columns = [unique_key] if unique_key is string else unique_key -%}
  {%- set relation_name = this.schema ~ '.' ~ this.identifier -%}
  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set changed_keys_sql = changed_keys_section_in(compiled_code) -%}
  {%- set inputs = changed_keys_inputs(changed_keys_sql) -%}
  {%- set code_fingerprint = local_md5(with_key_filters_written_out(compiled_code)) -%}
  {%- set state = run_query("select code_fingerprint, inputs_fingerprint, checked_through from registry.changed_keys_state"
                            ~ " where checked_through is not null and relation_name = '" ~ relation_name ~ "'") -%}
  {%- set recompute_changed_keys = existing_relation is not none and existing_relation.is_table
        and not should_full_refresh() and validated_boolean_var('ltv_reuse_unchanged_work')
        and state.rows | length == 1 and state.rows[0][0] == code_fingerprint and state.rows[0][1] == inputs.fingerprint -%}
  {%- if recompute_changed_keys -%}
    {%- for base_relation in inputs.base_relations -%}
      {%- set rewritten = run_query("select count(*) from " ~ base_relation ~ " having min(checked_at) > '"
                                    ~ state.rows[0][2] ~ "'::timestamp").rows | length > 0 -%}
      {%- if rewritten -%}
        {{ log("changed_keys_table " ~ relation_name ~ ": " ~ base_relation ~ " was checked in full since the last build", info=false) }}
        {%- set recompute_changed_keys = false -%}
      {%- endif -%}
    {%- endfor -%}
  {%- endif -%}

  {%- if not recompute_changed_keys -%}
    {{ return(changed_keys_table_in_full(relation_name, code_fingerprint, inputs.fingerprint)) }}
  {%- endif -%}

  {%- if config.get('contract').enforced -%}
    {{ get_assert_columns_equivalent(compiled_code) }}
  {%- endif -%}
  {%- set key_list = key_columns | join(', ') -%}
  {%- set same_key = [] -%}
  {%- for key_column in key_columns -%}
    {%- do same_key.append('rows.' ~ key_column ~ ' = changed.' ~ key_column) -%}
  {%- endfor -%}
  {% do run_query("create or replace temporary table changed_keys_table_keys as select distinct " ~ key_list
                  ~ " from (" ~ changed_keys_sql ~ ")") %}
  {% do run_query("create or replace temporary table changed_keys_table_new_rows as " ~ compiled_code) %}
  {%- set new_rows = api.Relation.create(database='temp', schema='main', identifier='changed_keys_table_new_rows', type='table') -%}
  {%- if not same_columns_and_types(new_rows, this) -%}
    {% do run_query("drop table changed_keys_table_new_rows") %}
    {{ return(changed_keys_table_in_full(relation_name, code_fingerprint, inputs.fingerprint)) }}
  {%- endif -%}
  {%- set stray_rows = run_query("select count(*) from changed_keys_table_new_rows as rows"
                                 ~ " anti join changed_keys_table_keys as changed on " ~ same_key | join(' and ')).rows[0][0] -%}
  {%- if stray_rows > 0 -%}
    {{ exceptions.raise_compiler_error("changed_keys_table " ~ relation_name ~ ": " ~ stray_rows ~ " rows have a "
        ~ key_list ~ " outside the changed_keys section; restrict the model to those keys") }}
  {%- endif -%}
  {%- set changed_count = run_query("select count(*) from changed_keys_table_keys").rows[0][0] -%}
  {{ log("changed_keys_table " ~ relation_name ~ ": recomputed the rows of " ~ changed_count ~ " changed keys", info=false) }}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}
  {% do run_query("delete from " ~ this ~ " as rows using changed_keys_table_keys as changed where " ~ same_key | join(' and ')) %}
  {%- call statement('main') -%}
    insert into {{ this }} by name select * from changed_keys_table_new_rows
  {%- endcall -%}
  {% do run_query("drop table changed_keys_table_new_rows") %}
  {% do run_query("drop table changed_keys_table_keys") %}
  {% do record_changed_keys_state(relation_name, code_fingerprint, inputs.fingerprint, build_started_at()) %}
  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {% do adapter.commit() %}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': [this.incorporate(type='table')]}) }}
{% endmaterialization %}


{#- Every key at once: dbt-duckdb's table materialization, with no checked_through recorded while it
    runs, so that the model's checked_since_last_build() conditions hold for every row. -#}
{% macro changed_keys_table_in_full(relation_name, code_fingerprint, inputs_fingerprint) %}
  {% do record_changed_keys_state(relation_name, code_fingerprint, inputs_fingerprint, none) %}
  {%- set result = materialization_table_duckdb() -%}
  {% do record_changed_keys_state(relation_name, code_fingerprint, inputs_fingerprint, build_started_at()) %}
  {% do adapter.commit() %}
  {{ return(result) }}
{% endmacro %}


{#- In a changed_keys_table model: wraps the select of the keys to recompute (see the materialization). -#}
{% macro changed_keys() -%}
/* ltv:changed_keys */
{{ caller() }}
/* ltv:end */
{%- endmacro %}


{#- In a changed_keys_table model: true for a base table's rows checked since this table was last
    built, and for every row when there is no such build (first build, or a full one now). -#}
{% macro checked_since_last_build(table_alias=none) -%}
{{ return(adapter.dispatch('checked_since_last_build')(table_alias)) }}
{%- endmacro %}

{% macro default__checked_since_last_build(table_alias) -%}
{{ table_alias ~ '.' if table_alias }}checked_at > coalesce((select checked_through from registry.changed_keys_state where relation_name = '{{ this.schema }}.{{ this.identifier }}'), '-infinity'::timestamp)
{%- endmacro %}


{#- In a changed_keys_table model, where its rows are kept to the changed keys:
    `{{ in_changed_keys('orders.order_id', 'changed_orders') }}` (the keys CTE's column has the key's
    name) is `orders.order_id in (select order_id from changed_orders)`. When this build recomputes
    every key anyway (recomputes_every_key), it is `true`: keeping every row to the set of all keys
    cost the large shop's full build ~9.5 CPU-s (the set built from 26M base rows, then a semi-join:
    int_user_item_interactions_aggregated 15.3 -> 10.8 CPU-s, int_orders_summarized 7.1 -> 2.2 without it,
    same rows). Either way the condition is written in the marker, which is what the code fingerprint
    reads (with_key_filters_written_out), so a fresh build and the rebuild after it agree on it. -#}
{% macro in_changed_keys(column, keys_cte) -%}
  {%- set condition = column ~ ' in (select ' ~ column.split('.')[-1] ~ ' from ' ~ keys_cte ~ ')' -%}
/* ltv:key_filter {{ condition }} */ {{ 'true' if recomputes_every_key() else condition }} /* ltv:end_key_filter */
{%- endmacro %}


{#- The compiled SQL with each in_changed_keys() as its condition, whether this build wrote it or `true`. -#}
{% macro with_key_filters_written_out(sql) %}
  {{ return(modules.re.sub('/\\* ltv:key_filter (.*?) \\*/.*?/\\* ltv:end_key_filter \\*/', '\\1', sql,
                           flags=modules.re.DOTALL)) }}
{% endmacro %}


{#- True when the changed_keys_table materialization will write every key of this model's table in this
    build whatever changed: no table yet (or not a table), --full-refresh, reuse turned off, or no build
    of it recorded (registry.changed_keys_state). Each of these also sends the materialization down its
    full path, so a `true` key filter is never used to recompute some keys. (Other reasons for the full
    path, such as changed code or inputs, are found only while it runs: those builds keep the filter, which
    then holds for every key.) On Spark every build is a full one. -#}
{% macro recomputes_every_key() %}
  {{ return(adapter.dispatch('recomputes_every_key')()) }}
{% endmacro %}

{% macro default__recomputes_every_key() %}
  {%- if not execute -%}
    {{ return(false) }}
  {%- endif -%}
  {%- set existing_relation = load_cached_relation(this) -%}
  {%- if existing_relation is none or not existing_relation.is_table or should_full_refresh()
         or not validated_boolean_var('ltv_reuse_unchanged_work') -%}
    {{ return(true) }}
  {%- endif -%}
  {%- set recorded = run_query("select count(*) from duckdb_tables() where schema_name = 'registry'"
                               ~ " and table_name = 'changed_keys_state'").rows[0][0] > 0 -%}
  {%- if not recorded -%}
    {{ return(true) }}
  {%- endif -%}
  {%- set state = run_query("select 1 from registry.changed_keys_state where checked_through is not null"
                            ~ " and relation_name = '" ~ this.schema ~ '.' ~ this.identifier ~ "'") -%}
  {{ return(state.rows | length == 0) }}
{% endmacro %}


{#- The changed_keys section of a model's compiled SQL. -#}
{% macro changed_keys_section_in(sql) %}
  {%- set found = modules.re.search('/\\* ltv:changed_keys \\*/(.*?)/\\* ltv:end \\*/', sql, flags=modules.re.DOTALL) -%}
  {%- if found is none -%}
    {{ exceptions.raise_compiler_error("changed_keys_table " ~ this ~ ": the model has no {% call changed_keys() %} section") }}
  {%- endif -%}
  {{ return(found.group(1)) }}
{% endmacro %}


{#- What a changed_keys_table model reads, in two parts. base_relations: the base tables whose
    checked_at says what changed (read directly or through a staging view over base tables only);
    the changed_keys section must read each. fingerprint: everything else that decides the rows,
    which must be unchanged for a rebuild of changed keys: the definition of each staging view and
    the content of every other input (settings, seeds), or of just the columns config
    input_columns_read names for it (e.g. the cut-off, not the scoring date that moves every day). -#}
{% macro changed_keys_inputs(changed_keys_sql) %}
  {%- set parts = [] -%}
  {%- set base_relations = [] -%}
  {%- set columns_read = config.get('input_columns_read', {}) -%}
  {%- for node_id in model.depends_on.nodes | sort -%}
    {%- set node = graph.sources[node_id] if node_id.startswith('source.') else graph.nodes[node_id] -%}
    {%- set parents = node.depends_on.nodes if node.resource_type == 'model' else [] -%}
    {%- set base_parents = [] -%}
    {%- for parent_id in parents if parent_id in graph.nodes
                                and graph.nodes[parent_id].config.materialized == 'fingerprinted_table' -%}
      {%- do base_parents.append(graph.nodes[parent_id]) -%}
    {%- endfor -%}
    {%- if node.resource_type == 'model' and node.config.materialized == 'fingerprinted_table' -%}
      {%- do base_relations.append(node.relation_name) -%}
    {%- elif node.resource_type == 'model' and node.config.materialized == 'view' and parents | length > 0
             and base_parents | length == parents | length -%}
      {%- set definition = run_query("select sql from duckdb_views() where database_name = '" ~ node.database
                                     ~ "' and schema_name = '" ~ node.schema ~ "' and view_name = '" ~ node.alias ~ "'") -%}
      {%- do parts.append(node_id ~ ':' ~ local_md5(definition.rows | map('first') | join(''))) -%}
      {%- for parent in base_parents -%}
        {%- do base_relations.append(parent.relation_name) -%}
      {%- endfor -%}
    {%- else -%}
      {%- set hashed_value = (columns_read[node.name] | join(', ')) if node.name in columns_read else 'parent' -%}
      {%- set hashed = run_query("select count(*), coalesce(sum(hash(" ~ hashed_value ~ ")), 0), coalesce(bit_xor(hash("
                                 ~ hashed_value ~ ", 'xor')), 0) from " ~ node.relation_name ~ " as parent") -%}
      {%- do parts.append(node_id ~ ':' ~ (hashed.rows[0] | join(','))) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- for base_relation in base_relations | unique -%}
    {%- if base_relation not in changed_keys_sql -%}
      {{ exceptions.raise_compiler_error("changed_keys_table " ~ this ~ " reads " ~ base_relation
          ~ " but its changed_keys section does not: changes there would be missed") }}
    {%- endif -%}
  {%- endfor -%}
  {{ return({'fingerprint': local_md5(parts | join('|')), 'base_relations': base_relations | unique | list}) }}
{% endmacro %}


{% macro record_changed_keys_state(relation_name, code_fingerprint, inputs_fingerprint, checked_through) %}
  {% do run_query("insert into registry.changed_keys_state values ('" ~ relation_name ~ "', '" ~ code_fingerprint
                  ~ "', '" ~ inputs_fingerprint ~ "', " ~ (checked_through if checked_through is not none else 'null')
                  ~ ", '" ~ invocation_id ~ "', current_timestamp::timestamp)"
                  ~ " on conflict (relation_name) do update set code_fingerprint = excluded.code_fingerprint,"
                  ~ " inputs_fingerprint = excluded.inputs_fingerprint, checked_through = excluded.checked_through,"
                  ~ " invocation_id = excluded.invocation_id, recorded_at = excluded.recorded_at") %}
{% endmacro %}
