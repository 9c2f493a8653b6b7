{#- How raw numbers written as text read: currency, thousands separators and the decimal mark. -#}


{#- Numbers written as text the way people write them: with a currency sign or code before or after
    (£1.95, 12,00 €, EUR 12.00), with thousands separators, and with the decimal mark of the export's
    country. A table's text numbers all use one mark (one export, one locale), and decimal_mark
    decides it: 'point' (1,234.50: a comma groups thousands), 'comma' (1.234,50 or 19,99: a point groups
    thousands), or 'unsettled' (as 'point', but a comma is nothing: 1,234 could be either and is
    quarantined as invalid_number). -#}
{% macro decimal_mark_choices() -%}
    {{ return(['auto', 'point', 'comma']) }}
{%- endmacro %}

{#- The written number without its currency: sign and digits with their separators ('' if the text
    is no such number). -#}
{% macro number_core(text_sql) -%}
    {%- set form = '^ *([-+]?) *(?:[$£€¥₹]|[A-Z]{3})? *([-+]?[0-9][0-9.,]*) *(?:[$£€¥₹]|[A-Z]{3})? *$' -%}
    concat({{ ltv_regexp_extract(text_sql, form, 1) }}, {{ ltv_regexp_extract(text_sql, form, 2) }})
{%- endmacro %}

{#- The number a text holds under a decimal mark (decimal_mark's 'point', 'comma' or 'unsettled'),
    null when it holds none. The plain cast comes first, so every number that read before reads the
    same (1e3, .5, 12), except that under 'comma' a point only ever groups thousands. -#}
{% macro text_as_number(text_sql, mark) -%}
    {%- set core = number_core(text_sql) -%}
    {%- if mark == 'comma' -%}
        case
            when {{ ltv_regexp_full_match(core, '[-+]?[0-9]{1,3}([.][0-9]{3})+(,[0-9]+)?|[-+]?[0-9]+(,[0-9]+)?') }}
                then try_cast(replace(replace({{ core }}, '.', ''), ',', '.') as double)
        end
    {%- else -%}
        {%- set plain = 'try_cast(' ~ text_sql ~ ' as double)' -%}
        case
            when {{ ltv_is_finite(plain) }} then {{ plain }}
            {%- if mark == 'point' %}
            when {{ ltv_regexp_full_match(core, '[-+]?[0-9]{1,3}(,[0-9]{3})*([.][0-9]+)?|[-+]?[0-9]+([.][0-9]+)?') }}
                then try_cast(replace({{ core }}, ',', '') as double)
            {%- else %}
            when {{ ltv_regexp_full_match(core, '[-+]?[0-9]+([.][0-9]+)?') }} then try_cast({{ core }} as double)
            {%- endif %}
        end
    {%- endif -%}
{%- endmacro %}

{#- A raw value as a finite double, null when it is none (NaN and ±Infinity are not amounts:
    invalid_number). Text reads by the table's decimal mark (text_as_number); a typed number as it is. -#}
{% macro raw_number(raw_column, raw_type, mark) -%}
    {%- if raw_type in ('VARCHAR', 'STRING', 'TEXT') -%}
        {{ text_as_number(raw_column, mark) }}
    {%- else -%}
        case when {{ ltv_is_finite('try_cast(' ~ raw_column ~ ' as double)') }} then try_cast({{ raw_column }} as double) end
    {%- endif -%}
{%- endmacro %}

{#- How the text numbers of a raw table read their decimal mark: 'point', 'comma' or 'unsettled'
    (text_as_number). Var ltv_source_decimal_mark decides when set; by default ('auto') the table's
    values: a number only a point can end (1.95, 0.1234, 1234.5, 1,234.5, 1,234,567) makes it 'point',
    one only a comma can end (19,95, 1.234,5, 1.234.567) 'comma'. A table with neither or both is
    'unsettled': numbers like 1,234 are not guessed (invalid_number, and the log names the var). Only
    text columns count: a typed Parquet or warehouse number has no mark. -#}
{% macro decimal_mark(table_name, source_relation, columns, raw_types) %}
    {%- set setting = validated_choice_var('ltv_source_decimal_mark', decimal_mark_choices()) -%}
    {%- set text_columns = [] -%}
    {%- for column in columns if column.type in ('number', 'integer', 'rating') and column.name in raw_types
                                 and raw_types[column.name] in ('VARCHAR', 'STRING', 'TEXT') -%}
        {%- do text_columns.append(column.name) -%}
    {%- endfor -%}
    {%- if setting != 'auto' -%}
        {{ return(setting) }}
    {%- endif -%}
    {%- if not execute or text_columns | length == 0 -%}
        {{ return('point') }}
    {%- endif -%}
    {%- set point_only = '[-+]?[0-9]+[.][0-9]{1,2}|[-+]?[0-9]*[.][0-9]{4,}|[-+]?[0-9]{4,}[.][0-9]+|[-+]?[0-9]{1,3}(,[0-9]{3})+[.][0-9]+|[-+]?[0-9]{1,3}(,[0-9]{3}){2,}' -%}
    {%- set comma_only = '[-+]?[0-9]*,[0-9]{1,2}|[-+]?[0-9]*,[0-9]{4,}|[-+]?[0-9]{4,},[0-9]+|[-+]?[0-9]{1,3}([.][0-9]{3})+,[0-9]+|[-+]?[0-9]{1,3}([.][0-9]{3}){2,}' -%}
    {%- set query -%}
        select
        {%- for pattern in [point_only, comma_only, '[-+]?[0-9]{1,3},[0-9]{3}'] %}
            coalesce(max(case when
                {%- for name in text_columns %} {{ ltv_regexp_full_match(number_core('trim(cast(' ~ adapter.quote(name) ~ ' as string))'), pattern) }}{{ ' or' if not loop.last }}{% endfor %}
                then 1 else 0 end), 0){{ "," if not loop.last }}
        {%- endfor %}
        from {{ source_relation }}
    {%- endset -%}
    {%- set found = run_query(query).rows[0] -%}
    {%- set points, commas, undecided = found[0] | int, found[1] | int, found[2] | int -%}
    {%- set where = table_name ~ ' (' ~ text_columns | join(', ') ~ ')' -%}
    {%- if commas and not points -%}
        {{ log("ltv: " ~ where ~ " reads its numbers with a decimal comma (a number like 19,95); var ltv_source_decimal_mark overrides", info=true) }}
        {{ return('comma') }}
    {%- elif points and not commas -%}
        {{ return('point') }}
    {%- elif points or undecided -%}
        {{ log("ltv: " ~ where ~ " has numbers whose decimal mark its values do not settle ("
               ~ ("some end with a decimal point and some with a decimal comma" if points else "a comma before three digits, as in 1,234")
               ~ "): numbers with a comma are quarantined as invalid_number; set var ltv_source_decimal_mark to point or comma", info=true) }}
    {%- endif -%}
    {{ return('unsettled') }}
{%- endmacro %}
