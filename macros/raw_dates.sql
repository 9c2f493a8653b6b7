{#- How raw timestamps read, whatever their form: typed, epoch numbers, digits of a date, text with or
    without a zone, dates with the year last or a month's name. validated_raw_rows (quarantine.sql) uses them. -#}

{#- A raw timestamp as a UTC timestamp, whatever its form and whatever the build machine's TZ:
      with a zone (TIMESTAMPTZ, or text ending in Z / +08:00 / -0530): converted to UTC;
      naive (TIMESTAMP, DATE, text without an offset): local time of var ltv_source_time_zone
        (default UTC, when it is simply taken as it is);
      epoch numbers (integer or decimal columns, or text of digits): seconds since 1970-01-01 UTC,
        or milliseconds from 10^11, microseconds from 10^14, nanoseconds from 10^17 (so any date
        after 1973 reads right in any of the four units); from 10^20 on: invalid_timestamp;
      text slash dates (12/31/2010 8:26, 31.12.2010): read in the order date_form says, 'month_first' or
        'day_first' (text_date_forms); with none they stay invalid_timestamp;
      text dates with the month's name (Mar 1, 2024; 01-Mar-2024) when date_form says the column has some. -#}
{% macro utc_timestamp(raw_column, raw_type, date_form=none) -%}
    {%- set form = raw_timestamp_form(raw_type) -%}
    {%- if form == 'zoned' -%}
        {{ ltv_offset_text_as_utc(raw_column) }}
    {%- elif form == 'naive' -%}
        {{ naive_as_utc('cast(' ~ raw_column ~ ' as timestamp)') }}
    {%- elif form == 'epoch' -%}
        {{ compact_date_or_epoch('cast(' ~ raw_column ~ ' as double)') }}
    {%- else -%}
        {#- written__<column>: the text with its dates rewritten year first (validated_raw_rows_sql). -#}
        {%- set text = ('written__' ~ raw_column[5:]) if date_form else 'trim(cast(' ~ raw_column ~ ' as string))' -%}
        {#- The zone after the time: an offset joined to it (Shopify's and Squarespace's order exports
            write 2019-10-30 11:08:56 -0400, which neither engine casts with the space), UTC or GMT
            written Z, and an IANA name (Europe/Paris) after one space (cast as a plain timestamp,
            DuckDB would drop it and keep the local time). -#}
        {%- set zone = '\\s*(Z|UTC|GMT|[+-][0-9]{2}(:?[0-9]{2})?|[A-Za-z]+/[A-Za-z_]+(/[A-Za-z_]+)?)$' -%}
        {%- set offset = ltv_regexp_extract(text, zone, 1) -%}
        {%- set zone_joined = 'concat(' ~ ltv_regexp_extract(text, '^(.*[0-9])' ~ zone, 1)
                              ~ ', case when ' ~ offset ~ " in ('UTC', 'GMT') then 'Z' when " ~ offset
                              ~ " like '%/%' then concat(' ', " ~ offset ~ ') else ' ~ offset ~ ' end)' -%}
        case
            when {{ ltv_regexp_full_match(text, '-?[0-9]+(\\.[0-9]+)?') }}
                then {{ compact_date_or_epoch('try_cast(' ~ text ~ ' as double)') }}
            when {{ ltv_regexp_matches(text, '[0-9]:[0-9]{2}(:[0-9]{2}(\\.[0-9]+)?)?' ~ zone) }}
                then {{ ltv_offset_text_as_utc(zone_joined) }}
            else {{ naive_as_utc('try_cast(' ~ text ~ ' as timestamp)') }}
        end
    {%- endif -%}
{%- endmacro %}

{#- How a raw timestamp column is read, by its type: 'zoned' (TIMESTAMPTZ), 'naive' (TIMESTAMP,
    DATE), 'epoch' (a number) or 'text' (by what each value holds). -#}
{% macro raw_timestamp_form(raw_type) -%}
    {#- DuckDB's names, and Spark's INT. -#}
    {%- set numeric_types = ['TINYINT', 'SMALLINT', 'INTEGER', 'INT', 'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT',
                             'UINTEGER', 'UBIGINT', 'UHUGEINT', 'FLOAT', 'DOUBLE', 'REAL'] -%}
    {%- if raw_type == 'TIMESTAMP WITH TIME ZONE' -%}
        {{ return('zoned') }}
    {%- elif raw_type.startswith('TIMESTAMP') or raw_type == 'DATE' -%}
        {{ return('naive') }}
    {%- elif raw_type in numeric_types or raw_type.startswith('DECIMAL') -%}
        {{ return('epoch') }}
    {%- endif -%}
    {{ return('text') }}
{%- endmacro %}

{#- A date written with the year last: 1-2 digit day and month, '/', '.' or '-' between them, a
    four- or two-digit year (12/31/2010, 31.12.2010 08:26, 1-5-97), then nothing or a time (and
    offset): groups first number, second number, year, the rest. -#}
{% macro slash_date_pattern() -%}
    {{ return('([0-9]{1,2})[/.-]([0-9]{1,2})[/.-]([0-9]{4}|[0-9]{2})([^0-9].*)?') }}
{%- endmacro %}

{#- A text timestamp that matches slash_date_pattern, rewritten year first (2010-12-31 20:26), which
    both engines cast. A two-digit year is 19yy from 69 on, else 20yy (POSIX strptime's rule); a 12-hour
    time (8:26 PM, 12:05 a.m.) becomes a 24-hour one, as US exports write them. -#}
{% macro slash_date_as_iso(text_sql, date_order) -%}
    {%- set anchored = '^' ~ slash_date_pattern() -%}
    {%- set month_group, day_group = (1, 2) if date_order == 'month_first' else (2, 1) -%}
    concat(
        {{ four_digit_year(ltv_regexp_extract(text_sql, anchored, 3)) }},
        '-', {{ ltv_regexp_extract(text_sql, anchored, month_group) }}, '-', {{ ltv_regexp_extract(text_sql, anchored, day_group) }},
        {{ clock_in_24_hours(ltv_regexp_extract(text_sql, anchored, 4)) }})
{%- endmacro %}

{#- A text timestamp with its date rewritten year first when it is written with the year last (in the
    order date_form says) or with the month's name (if date_form says the column has some); any other
    text as it is. Alternatives over the text itself, not one rewrite of the other, so the SQL stays
    the sum of the two. -#}
{% macro written_date_as_iso(text_sql, date_form) -%}
    case
        {%- if date_form.month_names %}
        {%- for order, pattern in month_name_patterns().items() %}
        when {{ ltv_regexp_full_match(text_sql, pattern) }} then {{ month_name_date_as_iso(text_sql, order) }}
        {%- endfor %}
        {%- endif %}
        {%- if date_form.order %}
        when {{ ltv_regexp_full_match(text_sql, slash_date_pattern()) }} then {{ slash_date_as_iso(text_sql, date_form.order) }}
        {%- endif %}
        else {{ text_sql }}
    end
{%- endmacro %}

{#- A year as four digits: a two-digit one is 19yy from 69 on, else 20yy (POSIX strptime's rule). -#}
{% macro four_digit_year(year_sql) -%}
    case when length({{ year_sql }}) = 2
        then concat(case when try_cast({{ year_sql }} as int) < 69 then '20' else '19' end, {{ year_sql }})
        else {{ year_sql }}
    end
{%- endmacro %}

{#- What follows a date, with a 12-hour time (8:26 PM, 12:05 a.m.) made a 24-hour one; anything else
    as it is. -#}
{% macro clock_in_24_hours(rest_sql) -%}
    {%- set clock = '^\\s*([0-9]{1,2})(:[0-9]{2}(:[0-9]{2}(\\.[0-9]+)?)?)\\s*([AaPp])\\.?[Mm]\\.?$' -%}
    case when {{ ltv_regexp_full_match(rest_sql, clock) }}
        then concat(' ', lpad(cast(try_cast({{ ltv_regexp_extract(rest_sql, clock, 1) }} as int) % 12
                                   + case when upper({{ ltv_regexp_extract(rest_sql, clock, 5) }}) = 'P' then 12 else 0 end
                                   as string), 2, '0'),
                    {{ ltv_regexp_extract(rest_sql, clock, 2) }})
        else {{ rest_sql }}
    end
{%- endmacro %}

{#- Dates with the month's English name, as shop back offices and spreadsheets write them: month first
    (Mar 1, 2024 10:00:00 AM, as Magento's order grid exports it; March 1st 2024) or day first
    (01-Mar-2024, 1 March 2024, Fri, 01 Mar 2024 10:00:00 GMT): groups month, day, year, the rest for
    month_first_pattern, day, month, year, the rest for day_first_pattern. A weekday before is skipped. -#}
{% macro month_name_patterns() -%}
    {%- set weekday = '(?:[A-Za-z]{3,9}\\.?,? +)?' -%}
    {{ return({'month_first': weekday ~ '([A-Za-z]{3,9})\\.? +([0-9]{1,2})(?:st|nd|rd|th)?,? +([0-9]{4})([^0-9].*)?',
               'day_first': weekday ~ '([0-9]{1,2})(?:st|nd|rd|th)?[ -]([A-Za-z]{3,9})\\.?,?[ -]([0-9]{4}|[0-9]{2})([^0-9].*)?'}) }}
{%- endmacro %}

{#- A text timestamp that matches month_name_patterns()[order], rewritten year first (2024-3-1
    10:00:00), which both engines cast; a name that is no month's makes it null (invalid_timestamp). -#}
{% macro month_name_date_as_iso(text_sql, order) -%}
    {%- set months = {'jan': 1, 'january': 1, 'feb': 2, 'february': 2, 'mar': 3, 'march': 3, 'apr': 4, 'april': 4,
                      'may': 5, 'jun': 6, 'june': 6, 'jul': 7, 'july': 7, 'aug': 8, 'august': 8, 'sep': 9, 'sept': 9,
                      'september': 9, 'oct': 10, 'october': 10, 'nov': 11, 'november': 11, 'dec': 12, 'december': 12} -%}
    {%- set anchored = '^' ~ month_name_patterns()[order] -%}
    {%- set month_group, day_group = (1, 2) if order == 'month_first' else (2, 1) -%}
    concat({{ four_digit_year(ltv_regexp_extract(text_sql, anchored, 3)) }}, '-',
           case lower({{ ltv_regexp_extract(text_sql, anchored, month_group) }})
               {%- for name, number in months.items() %} when '{{ name }}' then '{{ number }}'{% endfor %}
           end, '-', {{ ltv_regexp_extract(text_sql, anchored, day_group) }},
           {{ clock_in_24_hours(ltv_regexp_extract(text_sql, anchored, 4)) }})
{%- endmacro %}

{#- How each text timestamp column of a raw table reads its dates: {column: {'order': how slash dates
    read, 'month_first' | 'day_first' | none, 'month_names': whether some dates name their month}}.
    The order: var ltv_source_date_order decides when set; by default ('auto') the column's own
    values do: a first number above 12 is a day (31/12/2010), a second one above 12 makes the first a
    month (12/31/2010). A column that has slash dates but does not settle it (no number above 12, or
    both kinds) is left out: its slash dates stay invalid_timestamp, and the build log says why and
    which var decides. Month names are read only in a column that has some, so the other columns' SQL
    stays small. One scan of the raw table per build, only when it has a text timestamp column; the
    forms are written into the check's SQL, so a rebuild whose forms changed rechecks every row. -#}
{% macro source_date_order_choices() -%}
    {{ return(['auto', 'month_first', 'day_first']) }}
{%- endmacro %}

{% macro text_date_forms(table_name, source_relation, columns, raw_types) %}
    {%- set setting = validated_choice_var('ltv_source_date_order', source_date_order_choices()) -%}
    {%- set text_columns = [] -%}
    {%- for column in columns if column.type == 'timestamp' and column.name in raw_types
                                 and raw_timestamp_form(raw_types[column.name]) == 'text' -%}
        {%- do text_columns.append(column.name) -%}
    {%- endfor -%}
    {%- set forms = {} -%}
    {%- if not execute or text_columns | length == 0 -%}
        {{ return(forms) }}
    {%- endif -%}
    {%- set pattern = slash_date_pattern() -%}
    {%- set anchored = '^' ~ pattern -%}
    {%- set month_names = month_name_patterns() -%}
    {%- set query -%}
        select
        {%- for name in text_columns %}
            {%- set text = 'trim(cast(' ~ adapter.quote(name) ~ ' as string))' %}
            {%- set is_slash_date = ltv_regexp_full_match(text, pattern) %}
            coalesce(max(case when {{ is_slash_date }} then 1 else 0 end), 0) as slash_dates_{{ loop.index }},
            coalesce(max(case when {{ is_slash_date }} and try_cast({{ ltv_regexp_extract(text, anchored, 1) }} as int) > 12
                              then 1 else 0 end), 0) as day_first_{{ loop.index }},
            coalesce(max(case when {{ is_slash_date }} and try_cast({{ ltv_regexp_extract(text, anchored, 2) }} as int) > 12
                              then 1 else 0 end), 0) as month_first_{{ loop.index }},
            coalesce(max(case when {{ ltv_regexp_full_match(text, month_names.month_first) }}
                                or {{ ltv_regexp_full_match(text, month_names.day_first) }}
                              then 1 else 0 end), 0) as month_names_{{ loop.index }}{{ "," if not loop.last }}
        {%- endfor %}
        from {{ source_relation }}
    {%- endset -%}
    {%- set found = run_query(query).rows[0] -%}
    {%- for name in text_columns -%}
        {%- set slash_dates, day_first, month_first, has_month_names = found[4 * loop.index0] | int,
            found[4 * loop.index0 + 1] | int, found[4 * loop.index0 + 2] | int, found[4 * loop.index0 + 3] | int -%}
        {%- set where = table_name ~ '.' ~ name -%}
        {%- set form = {'order': none, 'month_names': has_month_names == 1} -%}
        {%- if setting != 'auto' -%}
            {%- do form.update({'order': setting}) -%}
        {%- elif slash_dates and day_first != month_first -%}
            {%- do form.update({'order': 'day_first' if day_first else 'month_first'}) -%}
            {{ log("ltv: " ~ where ~ " reads its slash dates " ~ ("day/month/year (a first number above 12)" if day_first
                   else "month/day/year (a second number above 12)") ~ "; var ltv_source_date_order overrides", info=true) }}
        {%- elif slash_dates -%}
            {{ log("ltv: " ~ where ~ " has slash dates whose order its values do not settle ("
                   ~ ("some have a day first and some a month first" if day_first else "no number above 12")
                   ~ "): they are quarantined as invalid_timestamp; set var ltv_source_date_order to month_first or day_first",
                   info=true) }}
        {%- endif -%}
        {%- if form.order or form.month_names -%}
            {%- do forms.update({name: form}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(forms) }}
{%- endmacro %}

{% macro naive_as_utc(timestamp_sql) -%}
    {%- set zone = validated_time_zone_var('ltv_source_time_zone') -%}
    {%- if zone == 'UTC' -%}
        {{ timestamp_sql }}
    {%- else -%}
        {{ ltv_local_as_utc(timestamp_sql, zone) }}
    {%- endif -%}
{%- endmacro %}

{#- A number that is a date written as digits, YYYYMMDD (19970101, as CDNOW-style exports write it)
    or YYYYMMDDhhmmss, as that naive date and time; other numbers as epoch_as_timestamp. As epoch
    seconds such an 8-digit number would fall in August 1970, and as milliseconds a 14-digit one after
    the year 2500: no shop's dates. Digits that are not a real date (19971340) are invalid_timestamp. -#}
{% macro compact_date_or_epoch(number_sql) -%}
    {%- set digits = 'cast(cast(' ~ number_sql ~ ' as bigint) as string)' -%}
    {%- set date_part = "concat(substr(" ~ digits ~ ", 1, 4), '-', substr(" ~ digits ~ ", 5, 2), '-', substr(" ~ digits ~ ", 7, 2)" -%}
    case
        when {{ number_sql }} between 19000101 and 21001231 and {{ number_sql }} = floor({{ number_sql }})
            then {{ naive_as_utc('try_cast(' ~ date_part ~ ') as timestamp)') }}
        when {{ number_sql }} between 19000101000000 and 21001231235959 and {{ number_sql }} = floor({{ number_sql }})
            then {{ naive_as_utc('try_cast(' ~ date_part ~ ", ' ', substr(" ~ digits ~ ", 9, 2), ':', substr(" ~ digits
                                 ~ ", 11, 2), ':', substr(" ~ digits ~ ", 13, 2)) as timestamp)") }}
        else {{ epoch_as_timestamp(number_sql) }}
    end
{%- endmacro %}

{% macro epoch_as_timestamp(number_sql) -%}
    case
        when abs({{ number_sql }}) < 1e11 then {{ ltv_timestamp_from_micros('cast(' ~ number_sql ~ ' * 1e6 as bigint)') }}
        when abs({{ number_sql }}) < 1e14 then {{ ltv_timestamp_from_micros('cast(' ~ number_sql ~ ' * 1e3 as bigint)') }}
        when abs({{ number_sql }}) < 1e17 then {{ ltv_timestamp_from_micros('cast(' ~ number_sql ~ ' as bigint)') }}
        when abs({{ number_sql }}) < 1e20 then {{ ltv_timestamp_from_micros('cast(' ~ number_sql ~ ' / 1e3 as bigint)') }}
    end
{%- endmacro %}
