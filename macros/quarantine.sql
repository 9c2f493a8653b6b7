{#-
  The quarantine rules, written once. Every base model calls validated_raw_rows() with its table's
  name (its key and columns come from raw_contract(), macros/raw_contract.sql) and its own rules;
  the result holds every raw row, typed, with `quarantine_reason` null for rows that staging keeps
  and the first failing rule's name for rows that go to quarantine_rows.

  rules:      extra [sql condition, reason] pairs on the typed columns (checked after the generic ones)
  references: [column, parent base model, reason]: the value must be an accepted key of the parent

  Precedence (a row gets the first reason that applies): missing_required, invalid_number,
  invalid_timestamp, invalid_rating, invalid_enum, non_positive_quantity, negative_price,
  timestamp_out_of_range, the table's own rules, unknown_* references, duplicate, duplicate_key.
-#}
{% macro validated_raw_rows(table_name, rules=[], references=[]) %}
{%- set contract = raw_contract()[table_name] -%}
{%- set source_relation = raw_table(table_name) -%}
{{ assert_required_columns(source_relation, table_name, contract.columns | rejectattr('optional') | map(attribute='name') | list) }}
{#- The raw columns' types: a timestamp is read by what it is (text, naive, with a zone, epoch). -#}
{%- set raw_types = {} -%}
{%- if execute -%}
    {%- for raw_column in adapter.get_columns_in_relation(source_relation) -%}
        {%- do raw_types.update({raw_column.name | lower: raw_column.dtype | upper}) -%}
    {%- endfor -%}
{%- endif -%}
{%- set arguments = {'table_name': table_name, 'source_relation': source_relation, 'key_columns': contract.key,
                     'columns': contract.columns, 'raw_types': raw_types, 'rules': rules, 'references': references,
                     'date_forms': text_date_forms(table_name, source_relation, contract.columns, raw_types),
                     'decimal_mark': decimal_mark(table_name, source_relation, contract.columns, raw_types)} -%}
{#- Parquet sources number their rows (raw_data.sql), which is what lets a rebuild check only rows
    appended since the last build; see raw_rows_check_plan. -#}
{%- set row_numbered = 'file_row_number' in raw_types -%}
{%- if row_numbered -%}
    {#- The plan must know whether the SQL itself changed since the last build: the model file and
        this macro's SQL for checking every row. -#}
    {%- set every_row_sql = without_build_sections(validated_raw_rows_sql(arguments, none)) -%}
    {%- set plan = raw_rows_check_plan(arguments, local_md5(model.raw_code ~ every_row_sql)) -%}
{%- else -%}
    {%- set plan = none -%}
{%- endif -%}
{{ validated_raw_rows_sql(arguments, plan) }}
{% endmacro %}


{#- The quarantine SQL. plan none: check every raw row (sources without row numbers). Otherwise
    the rows_to_check section carries the plan for the fingerprinted_table materialization, between
    markers that its fingerprint ignores: every row (first_new_row 'all'), or only the rows appended
    since the last build plus every row sharing a key with them or waiting for a parent key
    (first_new_row N), whose verdicts then replace those rows' old verdicts. -#}
{% macro validated_raw_rows_sql(arguments, plan) %}
{%- set table_name = arguments.table_name -%}
{%- set key_columns = arguments.key_columns -%}
{%- set columns = arguments.columns -%}
{%- set rules = arguments.rules -%}
{%- set references = arguments.references -%}
{%- set earliest = validated_date_var('ltv_earliest_valid_timestamp') -%}

{#- Every row is read once from the source to the output, never stored in between: the CTEs a query
    reads twice are inlined (ltv_cte_inlined), and only rows whose key hash repeats take the second,
    ranking path (repeated_key_hashes). -#}
with raw_rows as {{ ltv_cte_inlined() }} (

    select
        {%- for column in columns %}
        {%- if not execute or column.name in arguments.raw_types %}
        {{ adapter.quote(column.name) }} as raw__{{ column.name }},
        {%- else %}
        {#- An optional column the shop does not have. #}
        cast(null as string) as raw__{{ column.name }},
        {%- endif %}
        {%- endfor %}
        {{ 'file_row_number' if plan is not none else 'null' }} as raw_row_number
    from {{ arguments.source_relation }}

),

{#- A text timestamp column with dates written with the year last or the month's name, those dates
    rewritten year first (written_date_as_iso) in a column of its own, written__<column>: the typed
    value reads it several times, and as one nested expression the SQL grew past what Spark's planner
    holds in memory. -#}
written_rows as {{ ltv_cte_inlined() }} (

    select
        raw_rows.*
        {%- for column in columns if arguments.date_forms.get(column.name) %}
        , {{ written_date_as_iso('trim(cast(raw__' ~ column.name ~ ' as string))', arguments.date_forms[column.name]) }}
            as written__{{ column.name }}
        {%- endfor %}
    from raw_rows

),

typed_rows as {{ ltv_cte_inlined() }} (

    select
        written_rows.*,
        {%- for column in columns %}
        {{ typed_raw_value(column, arguments.raw_types.get(column.name, 'VARCHAR'), arguments.date_forms.get(column.name),
                           arguments.decimal_mark) }} as {{ column.name }}{{ "," if not loop.last }}
        {%- endfor %}
    from written_rows

),

rows_to_check as {{ ltv_cte_inlined() }} (

    select * from typed_rows
    {%- if plan is not none %}
    /* ltv:rows_to_check code_fingerprint={{ plan.code_fingerprint }} first_new_row={{ plan.first_new_row }} keys={{ key_columns | join(',') }} rows={{ plan.rows }} rows_fingerprint={{ plan.rows_fingerprint }} source={{ arguments.source_relation }} */
    {%- if plan.first_new_row != 'all' %}
    where raw_row_number >= {{ plan.first_new_row }}
       or ({{ key_columns | join(', ') }}) in (
            select {{ key_columns | join(', ') }} from typed_rows where raw_row_number >= {{ plan.first_new_row }}
            union all
            {#- Verdicts that can change without the row changing: a parent key may have arrived, and a
                timestamp that was after the build's day may now be inside the valid window. #}
            select {{ key_columns | join(', ') }} from {{ this }}
            where quarantine_reason like 'unknown\_%' escape '\' or {{ back_in_range_condition(table_name) }}
       )
    {%- endif %}
    /* ltv:end */
    {%- endif %}

),

checked_rows as (

    select
        rows_to_check.*,
        case
            {%- for column in columns if column.required %}
            when {{ raw_value_is_blank(column, arguments.raw_types.get(column.name, 'VARCHAR')) }} then 'missing_required'
            {%- endfor %}
            {%- for column in columns if column.type in ('number', 'integer') %}
            when raw__{{ column.name }} is not null and {{ column.name }} is null then 'invalid_number'
            {%- endfor %}
            {%- for column in columns if column.type == 'timestamp' %}
            when raw__{{ column.name }} is not null and {{ column.name }} is null then 'invalid_timestamp'
            {%- endfor %}
            {%- for column in columns if column.type == 'rating' %}
            when not {{ raw_value_is_blank(column, arguments.raw_types.get(column.name, 'VARCHAR')) }}
                and ({{ column.name }} is null or {{ column.name }} not between 1 and 5) then 'invalid_rating'
            {%- endfor %}
            {%- for column in columns if column.allowed is defined %}
            when {{ column.name }} not in ({% for value in column.allowed %}'{{ value }}'{{ ", " if not loop.last }}{% endfor %}) then 'invalid_enum'
            {%- endfor %}
            {%- for column in columns if column.sign is defined and column.sign == 'positive' %}
            when {{ column.name }} <= 0 then 'non_positive_quantity'
            {%- endfor %}
            {#- A price of 0 is a free line (a gift, a promotion): a purchase worth nothing. #}
            {%- for column in columns if column.sign is defined and column.sign == 'non_negative' %}
            when {{ column.name }} < 0 then 'negative_price'
            {%- endfor %}
            {%- for column in columns if column.type == 'timestamp' %}
            when {{ column.name }} < timestamp '{{ earliest }}' or {{ column.name }} >= {{ latest_valid_timestamp_sql() }} then 'timestamp_out_of_range'
            {%- endfor %}
            {%- for condition, reason in rules %}
            when {{ condition }} then '{{ reason }}'
            {%- endfor %}
        end as value_reason
    from rows_to_check

),

referenced_rows as {{ ltv_cte_inlined() }} (

    select
        checked_rows.*,
        case
            when value_reason is not null then value_reason
            {%- for column_name, parent_model, reason in references %}
            when checked_rows.{{ column_name }} is not null
                and known_{{ loop.index }}.key_value is null then '{{ reason }}'
            {%- endfor %}
        end as row_reason
    from checked_rows
    {%- for column_name, parent_model, reason in references %}
    left join (
        select distinct {{ key_of_base_model(parent_model) }} as key_value
        from {{ ref(parent_model) }}
        where quarantine_reason is null
    ) as known_{{ loop.index }}
        on checked_rows.{{ column_name }} = known_{{ loop.index }}.key_value
    {%- endfor %}

),

{#- Only rows that share a key can be copies of each other or other versions of a key. Grouping the
    key's hash (an integer) over every row checked finds a superset of those keys for less than
    grouping the key texts; the rows with such a hash (usually a few thousand) are ranked below,
    every other row keeps row_reason and streams straight to the output. -#}
{%- set key_hash = 'hash(' ~ key_columns | join(', ') ~ ')' %}
repeated_key_hashes as (

    select {{ key_hash }} as key_hash
    from rows_to_check
    group by {{ key_hash }}
    having count(*) > 1

),

rows_with_repeated_key_hash as (

    select referenced_rows.*
    from referenced_rows
    where {{ key_hash }} in (select key_hash from repeated_key_hashes)

),

repeated_keys as (

    {#- Keys that more than one otherwise valid row carries. -#}
    select {{ key_columns | join(', ') }}, count(*) as valid_rows_with_key
    from rows_with_repeated_key_hash
    where row_reason is null
    group by {{ key_columns | join(', ') }}
    having count(*) > 1

),

flagged_rows as (

    select
        rows_with_repeated_key_hash.*,
        repeated_keys.valid_rows_with_key is not null as has_repeated_key
    from rows_with_repeated_key_hash
    left join repeated_keys
        on rows_with_repeated_key_hash.row_reason is null
        {%- for key_column in key_columns %}
        and rows_with_repeated_key_hash.{{ key_column }} is not distinct from repeated_keys.{{ key_column }}
        {%- endfor %}

),

exact_copies_ranked as (

    {#- Among valid rows, number the identical copies of each row: copy 2, 3, ... are `duplicate`s
        of copy 1. -#}
    select
        flagged_rows.*,
        {#- Copies differ only in their position in the file (an order Spark requires). #}
        row_number() over (
            partition by {% for column in columns %}raw__{{ column.name }}{{ ", " if not loop.last }}{% endfor %}
            order by raw_row_number
        ) as copy_number
    from flagged_rows
    where has_repeated_key

),

{#- The columns every row carries from typed_rows to the end (Spark has no `* exclude`). -#}
{%- set carried = [] -%}
{%- for column in columns -%}{%- do carried.append('raw__' ~ column.name) -%}{%- endfor -%}
{%- do carried.append('raw_row_number') -%}
{%- for column in columns -%}{%- do carried.append(column.name) -%}{%- endfor -%}
{%- do carried.extend(['value_reason', 'row_reason']) %}

deduplicated_rows as (

    {#- Among the first copies, another version of a key (same key, different values) is a
        `duplicate_key`; the version kept is the first in the order of all its values, so the
        choice does not depend on file order. -#}
    select
        {{ carried | join(', ') }},
        case
            when copy_number > 1 then 'duplicate'
            when row_number() over (
                partition by copy_number = 1, {{ key_columns | join(', ') }}
                order by {% for column in columns %}cast(raw__{{ column.name }} as string) nulls first{{ ", " if not loop.last }}{% endfor %}
            ) > 1 then 'duplicate_key'
        end as quarantine_reason
    from exact_copies_ranked

),

all_rows as (

    {#- hash() is never null, so `not in` keeps every row whose hash does not repeat. -#}
    select {{ carried | join(', ') }}, row_reason as quarantine_reason
    from referenced_rows
    where {{ key_hash }} not in (select key_hash from repeated_key_hashes)
    union all
    select {{ carried | join(', ') }}, row_reason as quarantine_reason
    from flagged_rows
    where not has_repeated_key
    union all
    select {{ carried | join(', ') }}, quarantine_reason from deduplicated_rows

)

select
    '{{ table_name }}' as source_table,
    {% for key_column in key_columns %}coalesce(cast(raw__{{ key_column }} as string), '<null>'){{ " || '|' || " if not loop.last }}{% endfor %} as raw_key,
    {%- for column in columns %}
    {{ column.name }},
    {%- endfor %}
    quarantine_reason,
    {#- When this build started: a rebuild rewrites only the rows it checked again, so downstream
        models find what changed since they were built (macros/materializations/changed_keys_table.sql). #}
    {{ build_started_at() }} as checked_at,
    case
        {%- set raw_values = [] -%}
        {%- for column in columns -%}{%- do raw_values.append([column.name, 'raw__' ~ column.name]) -%}{%- endfor %}
        when quarantine_reason is not null then {{ ltv_json_object(raw_values) }}
    end as raw_row_json
from all_rows

{% endmacro %}

{#- Each base model's key, so references can name the parent model alone. -#}
{% macro key_of_base_model(model_name) -%}
    {%- set keys = {
        'base_shop__users': 'user_id',
        'base_shop__items': 'item_id',
        'base_shop__orders': 'order_id',
    } -%}
    {{ return(keys[model_name]) }}
{%- endmacro %}


{#- Whether a raw value is missing: null, or text that is empty once trimmed. Only text can be blank,
    so a typed raw column (a Parquet timestamp, a number) is only tested for null: casting 15.7M
    timestamps to text to compare them with '' was a fifth of the large shop's event check. A text
    column's typed value (typed_raw_value: trimmed, '' made null) already says it. -#}
{% macro raw_value_is_blank(column, raw_type) -%}
    {%- set never_blank_types = ['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT',
                                 'UINTEGER', 'UBIGINT', 'UHUGEINT', 'FLOAT', 'DOUBLE', 'REAL', 'BOOLEAN', 'DATE',
                                 'TIMESTAMP', 'TIMESTAMP WITH TIME ZONE', 'TIMESTAMP_S', 'TIMESTAMP_MS', 'TIMESTAMP_NS'] -%}
    {%- if column.type in ('id', 'text') and column.allowed is not defined -%}
        {{ column.name }} is null
    {%- elif column.allowed is defined -%}
        {#- typed: lower(trim(...)), so '' when blank -#}
        nullif({{ column.name }}, '') is null
    {%- elif raw_type in never_blank_types or raw_type.startswith('DECIMAL') -%}
        raw__{{ column.name }} is null
    {%- else -%}
        (raw__{{ column.name }} is null or trim(cast(raw__{{ column.name }} as string)) = '')
    {%- endif -%}
{%- endmacro %}


{#- A raw value cast to its contract type; a value that does not cast becomes null, which the
    checks then tell apart from a value that was missing. raw_type is the raw column's DuckDB type;
    date_form how a text timestamp column reads its dates (text_date_forms), decimal_mark how a
    text number does (decimal_mark, macros/raw_numbers.sql). -#}
{% macro typed_raw_value(column, raw_type, date_form=none, decimal_mark='point') -%}
    {%- set raw_column = 'raw__' ~ column.name -%}
    {%- set number = raw_number(raw_column, raw_type, decimal_mark) -%}
    {%- if column.type == 'id' -%}
        {{ id_as_text(raw_column, raw_type) }}
    {%- elif column.type == 'timestamp' -%}
        {{ utc_timestamp(raw_column, raw_type, date_form) }}
    {%- elif column.type == 'number' -%}
        {{ number }}
    {%- elif column.type in ('integer', 'rating') -%}
        {#- '4.0' is a valid 4; '4.5', 'five', NaN or a number too large for an integer are not. -#}
        case when {{ number }} = round({{ number }}) then try_cast({{ number }} as integer) end
    {%- elif column.allowed is defined -%}
        {%- set written = 'lower(trim(cast(' ~ raw_column ~ ' as string)))' -%}
        {%- if column.synonyms is defined -%}
            case {{ written }}
                {%- for synonym, value in column.synonyms.items() %} when '{{ synonym }}' then '{{ value }}'{% endfor %}
                else {{ written }}
            end
        {%- else -%}
            {{ written }}
        {%- endif -%}
    {%- else -%}
        nullif(trim(cast({{ raw_column }} as string)), '')
    {%- endif -%}
{%- endmacro %}


{#- An id as text. An export that went through pandas writes an integer id column with a gap in it
    as floats (a Parquet DOUBLE, or 17850.0 in a CSV) while the table it refers to writes 17850: every
    reference would then be unknown. So a whole number written as a float (a float or decimal column,
    or text of digits then '.' and zeros) reads as its digits, on both sides of every reference; any
    other id is its trimmed text, and NaN is no id (missing_required). -#}
{% macro id_as_text(raw_column, raw_type) -%}
    {%- if raw_type in ('FLOAT', 'DOUBLE', 'REAL') or raw_type.startswith('DECIMAL') -%}
        {#- Below 2^53 a double holds every whole number exactly; Spark writes larger ones as 1.2E16. -#}
        case
            when not {{ ltv_is_finite('cast(' ~ raw_column ~ ' as double)') }} then null
            when {{ raw_column }} = floor({{ raw_column }}) and abs({{ raw_column }}) < 9007199254740992
                then cast(cast({{ raw_column }} as bigint) as string)
            else cast({{ raw_column }} as string)
        end
    {%- else -%}
        {%- set text = "nullif(trim(cast(" ~ raw_column ~ " as string)), '')" -%}
        {#- The like is a cheap first test: most ids end in no zero after a point. -#}
        case
            when {{ text }} like '%.%0' and {{ ltv_regexp_full_match(text, '-?[0-9]+[.]0+') }}
                then {{ ltv_regexp_extract(text, '^(-?[0-9]+)[.]', 1) }}
            else {{ text }}
        end
    {%- endif -%}
{%- endmacro %}


{#- Rows of a base table quarantined as timestamp_out_of_range whose timestamps are all inside the
    valid window now: the default upper bound moves with the build's day, so a row dated in the
    future at one build can be valid at a later one, with no change to the row. -#}
{% macro back_in_range_condition(table_name) -%}
    (quarantine_reason = 'timestamp_out_of_range'
    {%- for column in raw_contract()[table_name]['columns'] if column.type == 'timestamp' %}
     and not coalesce({{ column.name }} < timestamp '{{ validated_date_var('ltv_earliest_valid_timestamp') }}'
                      or {{ column.name }} >= {{ latest_valid_timestamp_sql(marked=false) }}, false)
    {%- endfor %})
{%- endmacro %}


{#- Timestamps from this on are out of range: var ltv_latest_valid_timestamp, or by default one day
    after this build started (UTC), since nothing can have happened later; the day absorbs clocks
    and zones a little ahead. The default sits between build-section markers: a new day is not new
    SQL, and the rows it can change (those already out of range) are checked again every build. -#}
{% macro latest_valid_timestamp_sql(marked=true) -%}
    {%- set latest = validated_date_var('ltv_latest_valid_timestamp', allow_empty=true) -%}
    {%- if latest -%}
        timestamp '{{ latest }}'
    {%- else -%}
        {%- set literal = "cast('" ~ (run_started_at + modules.datetime.timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S") ~ "' as timestamp)" -%}
        {#- Unmarked inside a section that is a build section as a whole (markers do not nest). -#}
        {{ "/* ltv:build_started_at */ " ~ literal ~ " /* ltv:end */" if marked else literal }}
    {%- endif -%}
{%- endmacro %}


{#- How much of a row-numbered raw source a base model must check. Every row, unless the table the
    last build wrote can be brought up to date by checking only what was appended since:
      - reuse is on (var ltv_reuse_unchanged_work, no --full-refresh) and the model is a
        fingerprinted_table whose last table exists;
      - the SQL is the same (code_fingerprint) as when that table was written;
      - the rows it checked are still the first rows of the source, unchanged (same count, sum and
        xor of row hashes, each hash covering the row's position and values);
      - no row it accepted lost its parent: appending can only add parent keys, and if a parent was
        rebuilt from changed data, a vanished key would change verdicts this plan does not revisit.
    Returns the rows_to_check plan: first_new_row ('all' or the count of rows checked before) and
    the source's row count and fingerprint now, for the materialization to record. -#}
{% macro raw_rows_check_plan(arguments, code_fingerprint) %}
    {%- set relation_name = this.schema ~ '.' ~ this.identifier -%}
    {%- set checked_before = none -%}
    {%- if config.get('materialized') == 'fingerprinted_table' and validated_boolean_var('ltv_reuse_unchanged_work')
          and not should_full_refresh() -%}
        {%- set existing = adapter.get_relation(this.database, this.schema, this.identifier) -%}
        {%- if existing is not none and existing.is_table -%}
            {%- set stored = run_query("select rows_checked, rows_fingerprint, recorded_at from registry.raw_rows_checked"
                                       ~ " where rows_checked is not null and relation_name = '" ~ relation_name
                                       ~ "' and code_fingerprint = '" ~ code_fingerprint ~ "'") -%}
            {%- if stored.rows | length == 1 -%}
                {%- set checked_before = stored.rows[0] -%}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
    {%- set earlier_rows = checked_before[0] if checked_before is not none else 0 -%}
    {%- set source_now = run_query("select count(*), " ~ raw_rows_fingerprint_sql('true') ~ ", "
                                   ~ raw_rows_fingerprint_sql('file_row_number < ' ~ earlier_rows)
                                   ~ " from " ~ arguments.source_relation ~ " as raw_row") -%}
    {%- set rows_now, fingerprint_now, earlier_rows_fingerprint = source_now.rows[0] -%}
    {%- set first_new_row = 'all' -%}
    {%- if checked_before is not none and rows_now >= earlier_rows and earlier_rows_fingerprint == checked_before[1]
          and accepted_rows_still_have_parents(arguments.references, checked_before[2]) -%}
        {%- set first_new_row = earlier_rows -%}
    {%- endif -%}
    {{ return({'code_fingerprint': code_fingerprint, 'first_new_row': first_new_row,
               'rows': rows_now, 'rows_fingerprint': fingerprint_now}) }}
{% endmacro %}


{#- count:sum:xor of the row hashes of the raw rows meeting a condition (alias raw_row). -#}
{% macro raw_rows_fingerprint_sql(condition) -%}
    count(*) filter (where {{ condition }}) || ':'
    || coalesce(sum(hash(raw_row)) filter (where {{ condition }}), 0) || ':'
    || coalesce(bit_xor(hash(raw_row, 'xor')) filter (where {{ condition }}), 0)
{%- endmacro %}


{#- Whether every row of the current table that passed its reference checks (accepted, or a
    duplicate of an accepted row) still points at an accepted parent key. A parent whose rows were
    only appended or kept since this table was written (no full check after `written_at`) can
    only have gained keys; any other parent is checked row by row. -#}
{% macro accepted_rows_still_have_parents(references, written_at) %}
    {%- for column_name, parent_model, reason in references -%}
        {%- set parent = ref(parent_model) -%}
        {%- set only_grew = run_query("select count(*) from registry.raw_rows_checked where rows_checked is not null"
                                      ~ " and relation_name = '" ~ parent.schema ~ "." ~ parent.identifier ~ "'"
                                      ~ " and last_full_check_at < '" ~ written_at ~ "'::timestamp") -%}
        {%- if only_grew.rows[0][0] == 0 -%}
            {%- set orphans = run_query(
                "select count(*) from " ~ this ~ " as checked"
                ~ " where (checked.quarantine_reason is null or checked.quarantine_reason in ('duplicate', 'duplicate_key'))"
                ~ " and checked." ~ column_name ~ " is not null"
                ~ " and not exists (select 1 from " ~ parent ~ " as parent where parent.quarantine_reason is null"
                ~ " and parent." ~ key_of_base_model(parent_model) ~ " = checked." ~ column_name ~ ")") -%}
            {%- if orphans.rows[0][0] > 0 -%}
                {{ return(false) }}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(true) }}
{% endmacro %}
