{#- Spark's spelling of macros/engine_sql_sets.sql. -#}

{% macro spark__ltv_unnest_values(values) -%}
    explode(array({{ values | join(', ') }}))
{%- endmacro %}

{#- Spark SQL has no UNION BY NAME: each relation lists the first one's columns, so a column order
    that differs between them cannot shift values into the wrong column. -#}
{% macro spark__ltv_union_all_by_name(relations) -%}
    {%- set columns = adapter.get_columns_in_relation(relations[0]) if execute else [] -%}
    {%- set column_list = columns | map(attribute='name') | map('replace', '`', '``') | join('`, `') -%}
    {%- for relation in relations %}

    select {{ '`' ~ column_list ~ '`' if columns else '*' }}
    from {{ relation }}
    {{ "union all" if not loop.last }}
    {%- endfor %}
{%- endmacro %}
