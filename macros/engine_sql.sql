{#- SQL that DuckDB and Spark spell differently, written once here and dispatched on the target's
    adapter (default__: DuckDB, spark__: macros/spark/spark_sql.sql). Where both engines accept the
    same words (`string` as a type, `||`, try_cast, `is not distinct from`), models use those. -#}

{#- Neither NaN nor ±Infinity (null stays null). -#}
{% macro ltv_is_finite(number_sql) -%}
    {{ return(adapter.dispatch('ltv_is_finite')(number_sql)) }}
{%- endmacro %}
{% macro default__ltv_is_finite(number_sql) -%}
    isfinite({{ number_sql }})
{%- endmacro %}

{#- Whether the whole text matches a regular expression (pattern given as plain regex text). -#}
{% macro ltv_regexp_full_match(text_sql, pattern) -%}
    {{ return(adapter.dispatch('ltv_regexp_full_match')(text_sql, pattern)) }}
{%- endmacro %}
{% macro default__ltv_regexp_full_match(text_sql, pattern) -%}
    regexp_full_match({{ text_sql }}, '{{ pattern }}')
{%- endmacro %}

{#- Whether some part of the text matches. -#}
{% macro ltv_regexp_matches(text_sql, pattern) -%}
    {{ return(adapter.dispatch('ltv_regexp_matches')(text_sql, pattern)) }}
{%- endmacro %}
{% macro default__ltv_regexp_matches(text_sql, pattern) -%}
    regexp_matches({{ text_sql }}, '{{ pattern }}')
{%- endmacro %}

{#- The text of a capturing group of the pattern's first match ('' without a match). -#}
{% macro ltv_regexp_extract(text_sql, pattern, group) -%}
    {{ return(adapter.dispatch('ltv_regexp_extract')(text_sql, pattern, group)) }}
{%- endmacro %}
{% macro default__ltv_regexp_extract(text_sql, pattern, group) -%}
    regexp_extract({{ text_sql }}, '{{ pattern }}', {{ group }})
{%- endmacro %}

{#- A top-level field of a JSON object text, as text (null when absent or JSON null). -#}
{% macro ltv_json_field(json_sql, field) -%}
    {{ return(adapter.dispatch('ltv_json_field')(json_sql, field)) }}
{%- endmacro %}
{% macro default__ltv_json_field(json_sql, field) -%}
    json_extract_string({{ json_sql }}, '$.{{ field }}')
{%- endmacro %}

{#- A JSON object text of named values, nulls kept as null: pairs is a list of [name, sql]. -#}
{% macro ltv_json_object(pairs) -%}
    {{ return(adapter.dispatch('ltv_json_object')(pairs)) }}
{%- endmacro %}
{% macro default__ltv_json_object(pairs) -%}
    to_json(struct_pack(
        {%- for name, value_sql in pairs %}
        {{ name }} := {{ value_sql }}{{ "," if not loop.last }}
        {%- endfor %}
    ))
{%- endmacro %}

{#- A timestamp from whole microseconds since 1970-01-01 UTC. -#}
{% macro ltv_timestamp_from_micros(micros_sql) -%}
    {{ return(adapter.dispatch('ltv_timestamp_from_micros')(micros_sql)) }}
{%- endmacro %}
{% macro default__ltv_timestamp_from_micros(micros_sql) -%}
    make_timestamp({{ micros_sql }})
{%- endmacro %}

{#- A timestamp text with an offset (Z, +08:00), read as the UTC timestamp it names. -#}
{% macro ltv_offset_text_as_utc(text_sql) -%}
    {{ return(adapter.dispatch('ltv_offset_text_as_utc')(text_sql)) }}
{%- endmacro %}
{% macro default__ltv_offset_text_as_utc(text_sql) -%}
    timezone('UTC', try_cast({{ text_sql }} as timestamptz))
{%- endmacro %}

{#- A naive timestamp that is a local time of an IANA zone, as UTC. -#}
{% macro ltv_local_as_utc(timestamp_sql, zone) -%}
    {{ return(adapter.dispatch('ltv_local_as_utc')(timestamp_sql, zone)) }}
{%- endmacro %}
{% macro default__ltv_local_as_utc(timestamp_sql, zone) -%}
    timezone('UTC', timezone('{{ zone }}', {{ timestamp_sql }}))
{%- endmacro %}

{#- Whole days from one date to another (dbt.datediff asserts non-null dates on Spark, and these
    dates may be null). -#}
{% macro ltv_days_between(start_sql, end_sql) -%}
    {{ return(adapter.dispatch('ltv_days_between')(start_sql, end_sql)) }}
{%- endmacro %}
{% macro default__ltv_days_between(start_sql, end_sql) -%}
    date_diff('day', {{ start_sql }}, {{ end_sql }})
{%- endmacro %}

{#- An average of doubles summed in a fixed order: DuckDB's parallel sums otherwise move the last bits
    between two builds of the same data. Spark has no ordered aggregate: a plain average there. -#}
{% macro ltv_ordered_avg(expression_sql, order_sql) -%}
    {{ return(adapter.dispatch('ltv_ordered_avg')(expression_sql, order_sql)) }}
{%- endmacro %}
{% macro default__ltv_ordered_avg(expression_sql, order_sql) -%}
    avg({{ expression_sql }} order by {{ order_sql }})
{%- endmacro %}

{#- Written after `<name> as` in a CTE that a query reads more than once: DuckDB would otherwise
    materialize it (every column of every row, spilled to disk past the memory cap: 3.9 GB for the
    large shop's events check), where computing it again streams. Spark always inlines CTEs. -#}
{% macro ltv_cte_inlined() -%}
    {{ return(adapter.dispatch('ltv_cte_inlined')()) }}
{%- endmacro %}
{% macro default__ltv_cte_inlined() -%}
    not materialized
{%- endmacro %}
