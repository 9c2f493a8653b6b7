{#- Seeds over a Spark session (target spark). dbt-spark 1.11 binds every value by formatting it into
    '...': an empty cell arrives as the string 'None' and a comment with an apostrophe ends its literal
    early (a syntax error). Here each value is written as a SQL literal of its own: null for an empty
    cell, otherwise a string literal with backslashes and quotes escaped (Spark's literal syntax),
    then cast to the seed's column type, as dbt-spark does. The root project's spark__load_csv_rows wins
    over dbt-spark's in dispatch. -#}
{% macro spark__load_csv_rows(model, agate_table) %}
  {%- set column_override = model['config'].get('column_types', {}) -%}
  {#- The values go in as plain literals and each column is cast once, in a select over them: a cast
      around every value made Spark take about three times as long to plan an insert. -#}
  {%- set value_columns = [] -%}
  {%- set casts = [] -%}
  {%- for column_name in agate_table.column_names -%}
    {%- set column_type = column_override.get(column_name, adapter.convert_type(agate_table, loop.index0)) -%}
    {%- do value_columns.append('c' ~ loop.index0) -%}
    {%- do casts.append('cast(c' ~ loop.index0 ~ ' as ' ~ column_type ~ ')') -%}
  {%- endfor -%}
  {%- set statements = [] -%}
  {#- Large batches: every insert is a Spark job writing files, so fewer statements load faster. -#}
  {%- for chunk in agate_table.rows | batch(spark_seed_batch_size()) -%}
    {%- set rows = [] -%}
    {%- for row in chunk -%}
      {%- set values = [] -%}
      {%- for value in row -%}
        {%- do values.append(spark_seed_literal(value)) -%}
      {%- endfor -%}
      {%- do rows.append('(' ~ values | join(', ') ~ ')') -%}
    {%- endfor -%}
    {%- set sql = 'insert into ' ~ this.render() ~ ' select ' ~ casts | join(', ') ~ ' from values\n'
                  ~ rows | join(',\n') ~ '\nas seed_rows(' ~ value_columns | join(', ') ~ ')' -%}
    {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
    {%- if loop.first -%}{%- do statements.append(sql) -%}{%- endif -%}
  {%- endfor -%}
  {{ return(statements[0] if statements else '') }}
{% endmacro %}

{% macro spark_seed_batch_size() -%}
  {{ return(config.get('batch_size') or 10000) }}
{%- endmacro %}

{% macro spark_seed_literal(value) -%}
  {%- if value is none -%}
    {{ return('null') }}
  {%- elif value is sameas true or value is sameas false -%}
    {{ return(value | string | lower) }}
  {%- endif -%}
  {{ return("'" ~ (value | string).replace('\\', '\\\\').replace("'", "\\'") ~ "'") }}
{%- endmacro %}
