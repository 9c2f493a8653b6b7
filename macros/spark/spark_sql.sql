{#- Spark's spelling of the cross-engine SQL in macros/engine_sql.sql. Spark runs with ANSI mode off
    (dbt-spark sets it), so a cast that fails gives null, as DuckDB's try_cast. -#}

{% macro spark__ltv_is_finite(number_sql) -%}
    (not isnan({{ number_sql }}) and abs({{ number_sql }}) != double('infinity'))
{%- endmacro %}

{#- Spark reads backslashes in string literals as escapes: a regex's backslashes are doubled. -#}
{% macro spark_regex_literal(pattern) -%}
    '{{ pattern | replace("\\", "\\\\") }}'
{%- endmacro %}

{% macro spark__ltv_regexp_full_match(text_sql, pattern) -%}
    ({{ text_sql }} rlike {{ spark_regex_literal('^(?:' ~ pattern ~ ')$') }})
{%- endmacro %}

{% macro spark__ltv_regexp_matches(text_sql, pattern) -%}
    ({{ text_sql }} rlike {{ spark_regex_literal(pattern) }})
{%- endmacro %}

{% macro spark__ltv_regexp_extract(text_sql, pattern, group) -%}
    regexp_extract({{ text_sql }}, {{ spark_regex_literal(pattern) }}, {{ group }})
{%- endmacro %}

{% macro spark__ltv_json_field(json_sql, field) -%}
    get_json_object({{ json_sql }}, '$.{{ field }}')
{%- endmacro %}

{#- to_json drops null fields unless told not to; DuckDB writes them as null. -#}
{% macro spark__ltv_json_object(pairs) -%}
    to_json(named_struct(
        {%- for name, value_sql in pairs %}
        '{{ name }}', {{ value_sql }}{{ "," if not loop.last }}
        {%- endfor %}
    ), map('ignoreNullFields', 'false'))
{%- endmacro %}

{% macro spark__ltv_timestamp_from_micros(micros_sql) -%}
    timestamp_micros({{ micros_sql }})
{%- endmacro %}

{#- With the session time zone UTC (profiles: spark), Spark's cast applies the text's offset. -#}
{% macro spark__ltv_offset_text_as_utc(text_sql) -%}
    try_cast({{ text_sql }} as timestamp)
{%- endmacro %}

{% macro spark__ltv_local_as_utc(timestamp_sql, zone) -%}
    to_utc_timestamp({{ timestamp_sql }}, '{{ zone }}')
{%- endmacro %}

{% macro spark__ltv_days_between(start_sql, end_sql) -%}
    datediff({{ end_sql }}, {{ start_sql }})
{%- endmacro %}

{#- Spark has no ordered aggregate: a plain average, whose last bits follow how its partial sums
    combine (on the demo fct_user_value_versions' RMSEs differ from DuckDB's by 6e-15 relative at most). -#}
{% macro spark__ltv_ordered_avg(expression_sql, order_sql) -%}
    avg({{ expression_sql }})
{%- endmacro %}

{#- Spark inlines every CTE (macros/engine_sql.sql: ltv_cte_inlined). -#}
{% macro spark__ltv_cte_inlined() -%}
{%- endmacro %}
