{#-
  A table that dbt rebuilds only when what it reads changed: its compiled SQL, and the rows of every
  relation it selects from (an order-independent hash computed inside DuckDB, about a second for 15
  million rows). Otherwise the table the last build wrote is kept as it is: that is the table a
  rebuild would produce. For the base tables, whose quarantine checks cost far more than hashing
  their raw input, so a rebuild after new orders does not re-check fifteen million unchanged events.

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

  {%- if unchanged and validated_boolean_var('ltv_reuse_unchanged_work') and not should_full_refresh() -%}
    {{ log("Inputs of " ~ relation_name ~ " unchanged since the last build: table kept", info=false) }}
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

  {#- Forget the old fingerprint first: if the build fails, nothing claims the old table is current. -#}
  {% do run_query("delete from registry.output_fingerprints where relation_name = '" ~ relation_name ~ "'") %}
  {%- set result = materialization_table_duckdb() -%}
  {% do run_query("insert or replace into registry.output_fingerprints values ('" ~ relation_name ~ "', '"
                  ~ fingerprint ~ "', '" ~ invocation_id ~ "', true, current_timestamp::timestamp)") %}
  {% do adapter.commit() %}
  {{ return(result) }}
{% endmaterialization %}


{#- The fingerprint of a model's inputs: its compiled SQL and the content hash of each relation it
    depends on (models, seeds and sources alike). -#}
{% macro model_input_fingerprint() %}
  {%- set parts = [compiled_code] -%}
  {%- for node_id in model.depends_on.nodes | sort -%}
    {%- set node = graph.sources[node_id] if node_id.startswith('source.') else graph.nodes[node_id] -%}
    {%- set hashed = run_query("select count(*), coalesce(sum(hash(parent)), 0), coalesce(bit_xor(hash(parent, 'xor')), 0) from "
                               ~ node.relation_name ~ " as parent") -%}
    {%- do parts.append(node_id ~ ':' ~ (hashed.rows[0] | join(','))) -%}
  {%- endfor -%}
  {{ return(local_md5(parts | join('|'))) }}
{% endmacro %}
