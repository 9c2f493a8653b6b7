{#-
  A table brought up to date row by row: the model's rows are computed into a temporary table,
  each key's count and sum of row hashes compared with the table's (grouped by unique_key), and only the
  keys whose rows changed, appeared or disappeared are deleted and inserted again. The table ends
  exactly as a rebuild would leave it; what is saved is writing it. For marts that copy long text
  (fct_text_sentiment: 2.5M rows of masked comments, of which a daily load changes about 1%):
  compressing and writing every text again cost more than computing the rows.

  Config: unique_key (a column or a list; rows are compared per key, so a key may hold several
  rows). A model may end with write_order(columns): the order a whole table is written in, which the
  keyed rewrite leaves out. The whole table is written (dbt-duckdb's table materialization) on the first build, with
  --full-refresh or var ltv_reuse_unchanged_work=false, and when the columns or their types changed.
-#}
{% materialization keyed_table, adapter='duckdb', supported_languages=['sql'] %}
  {%- set unique_key = config.require('unique_key') -%}
  {%- set key_columns = [unique_key] if unique_key is string else unique_key -%}
  {%- set existing_relation = load_cached_relation(this) -%}
  {%- if existing_relation is none or not existing_relation.is_table or should_full_refresh()
        or not validated_boolean_var('ltv_reuse_unchanged_work') -%}
    {{ return(materialization_table_duckdb()) }}
  {%- endif -%}

  {%- if config.get('contract').enforced -%}
    {{ get_assert_columns_equivalent(compiled_code) }}
  {%- endif -%}
  {#- Temporary (in memory, not compressed to disk): writing the rows is the cost this avoids. -#}
  {%- set new_rows = api.Relation.create(database='temp', schema='main', identifier='keyed_table_new_rows', type='table') -%}
  {#- Without the model's write_order(): only a whole table is stored in that order (fct_text_sentiment: the
      sort doubled the cost of this statement, ~3 CPU-s of a large shop's rebuild, for rows compared and
      mostly thrown away). -#}
  {% do run_query("create or replace temporary table keyed_table_new_rows as " ~ without_write_order(compiled_code)) %}
  {%- if not same_columns_and_types(new_rows, this) -%}
    {% do run_query("drop table " ~ new_rows) %}
    {{ return(materialization_table_duckdb()) }}
  {%- endif -%}

  {%- set key_list = key_columns | join(', ') -%}
  {%- set same_key = [] -%}
  {%- for key_column in key_columns -%}
    {%- do same_key.append('changed.' ~ key_column ~ ' is not distinct from rows.' ~ key_column) -%}
  {%- endfor -%}
  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}
  {#- A key changed when the multiset of its rows' hashes differs: compared as a sum and a count. -#}
  {% do run_query(
      "create or replace temporary table keyed_table_changed_keys as "
      ~ "select " ~ key_list ~ " from ("
      ~ " select " ~ key_list ~ ", count(*) as row_count, sum(hash(rows)) as hash_sum, 'new' as side from " ~ new_rows ~ " as rows group by all"
      ~ " union all"
      ~ " select " ~ key_list ~ ", count(*), sum(hash(rows)), 'old' from " ~ this ~ " as rows group by " ~ key_list
      ~ ") group by " ~ key_list ~ " having count(*) = 1 or count(distinct (row_count, hash_sum)) > 1") %}
  {%- set changed_count = run_query("select count(*) from keyed_table_changed_keys").rows[0][0] -%}
  {{ log("keyed_table " ~ this ~ ": rewrote the rows of " ~ changed_count ~ " changed keys", info=false) }}
  {% do run_query("delete from " ~ this ~ " as rows using keyed_table_changed_keys as changed where " ~ same_key | join(' and ')) %}
  {%- call statement('main') -%}
    insert into {{ this }} by name
    select rows.* from {{ new_rows }} as rows
    semi join keyed_table_changed_keys as changed on {{ same_key | join(' and ') }}
  {%- endcall -%}
  {% do run_query("drop table " ~ new_rows) %}
  {% do run_query("drop table keyed_table_changed_keys") %}
  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {% do adapter.commit() %}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': [this.incorporate(type='table')]}) }}
{% endmaterialization %}


{#- Whether two relations have the same columns, in the same order, with the same types: the
    condition for inserting one's rows into the other by name. -#}
{% macro same_columns_and_types(relation, other_relation) %}
  {%- set columns = adapter.get_columns_in_relation(relation) -%}
  {%- set other_columns = adapter.get_columns_in_relation(other_relation) -%}
  {{ return(columns | map(attribute='column') | list == other_columns | map(attribute='column') | list
            and columns | map(attribute='dtype') | list == other_columns | map(attribute='dtype') | list) }}
{% endmacro %}


{#- `order by <columns>` at the end of a keyed_table model: the order the table is written in when it is
    written whole (rows next to each other compress together), marked so that the keyed rewrite, which
    stores only the changed keys' rows, can leave the sort out. -#}
{% macro write_order(columns) -%}
/* ltv:write_order */ order by {{ columns }}
{%- endmacro %}


{#- A keyed_table model's compiled SQL without its write_order(). -#}
{% macro without_write_order(sql) %}
  {{ return(sql.split('/* ltv:write_order */')[0]) }}
{% endmacro %}
