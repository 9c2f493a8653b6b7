{#-
  The quarantine rules, written once. Every base model calls validated_raw_rows() with its table's
  column specification; the result holds every raw row, typed, with `quarantine_reason` null for
  rows that staging keeps and the first failing rule's name for rows that go to quarantine_rows.

  columns: list of dicts
    name      contract column name
    type      'text' | 'timestamp' | 'number' | 'integer' | 'rating'
    required  true when a null (or blank text) makes the row unusable
    allowed   for enumerations: the accepted lower-case values
    positive  'quantity' or 'price': the value must be > 0 (reason non_positive_<positive>)
  rules:      extra [sql condition, reason] pairs on the typed columns (checked after the generic ones)
  references: [column, parent base model, reason]: the value must be an accepted key of the parent

  Precedence (a row gets the first reason that applies): missing_required, invalid_number,
  invalid_timestamp, invalid_rating, invalid_enum, non_positive_quantity, non_positive_price,
  timestamp_out_of_range, the table's own rules, unknown_* references, duplicate, duplicate_key.
-#}
{% macro validated_raw_rows(table_name, key_columns, columns, rules=[], references=[]) %}
{%- set source_relation = raw_table(table_name) -%}
{{ assert_required_columns(source_relation, table_name, columns | map(attribute='name') | list) }}
{%- set earliest = validated_date_var('ltv_earliest_valid_timestamp') -%}
{%- set latest = validated_date_var('ltv_latest_valid_timestamp') -%}

with raw_rows as (

    select
        {%- for column in columns %}
        {{ adapter.quote(column.name) }} as raw__{{ column.name }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ source_relation }}

),

typed_rows as (

    select
        raw_rows.*,
        {%- for column in columns %}
        {%- set raw_column = 'raw__' ~ column.name %}
        {%- if column.type == 'timestamp' %}
        try_cast({{ raw_column }} as timestamp) as {{ column.name }}
        {%- elif column.type == 'number' %}
        try_cast({{ raw_column }} as double) as {{ column.name }}
        {%- elif column.type in ('integer', 'rating') %}
        {#- '4.0' is a valid 4; '4.5' or 'five' are not integers. -#}
        case
            when try_cast({{ raw_column }} as double) = round(try_cast({{ raw_column }} as double))
                then try_cast(try_cast({{ raw_column }} as double) as integer)
        end as {{ column.name }}
        {%- elif column.allowed is defined %}
        lower(trim(cast({{ raw_column }} as varchar))) as {{ column.name }}
        {%- else %}
        nullif(trim(cast({{ raw_column }} as varchar)), '') as {{ column.name }}
        {%- endif %}{{ "," if not loop.last }}
        {%- endfor %}
    from raw_rows

),

checked_rows as (

    select
        typed_rows.*,
        case
            {%- for column in columns if column.required %}
            when raw__{{ column.name }} is null or trim(cast(raw__{{ column.name }} as varchar)) = '' then 'missing_required'
            {%- endfor %}
            {%- for column in columns if column.type in ('number', 'integer') %}
            when raw__{{ column.name }} is not null and {{ column.name }} is null then 'invalid_number'
            {%- endfor %}
            {%- for column in columns if column.type == 'timestamp' %}
            when raw__{{ column.name }} is not null and {{ column.name }} is null then 'invalid_timestamp'
            {%- endfor %}
            {%- for column in columns if column.type == 'rating' %}
            when raw__{{ column.name }} is not null and trim(cast(raw__{{ column.name }} as varchar)) <> ''
                and ({{ column.name }} is null or {{ column.name }} not between 1 and 5) then 'invalid_rating'
            {%- endfor %}
            {%- for column in columns if column.allowed is defined %}
            when {{ column.name }} not in ({% for value in column.allowed %}'{{ value }}'{{ ", " if not loop.last }}{% endfor %}) then 'invalid_enum'
            {%- endfor %}
            {%- for column in columns if column.positive is defined and column.positive == 'quantity' %}
            when {{ column.name }} <= 0 then 'non_positive_quantity'
            {%- endfor %}
            {%- for column in columns if column.positive is defined and column.positive == 'price' %}
            when {{ column.name }} <= 0 then 'non_positive_price'
            {%- endfor %}
            {%- for column in columns if column.type == 'timestamp' %}
            when {{ column.name }} < timestamp '{{ earliest }}' or {{ column.name }} >= timestamp '{{ latest }}' then 'timestamp_out_of_range'
            {%- endfor %}
            {%- for condition, reason in rules %}
            when {{ condition }} then '{{ reason }}'
            {%- endfor %}
        end as value_reason
    from typed_rows

),

referenced_rows as (

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

repeated_keys as (

    {#- Keys that more than one otherwise valid row carries. Only those rows can be copies of each
        other (a copy has the same key) or other versions of a key, so only they are ranked: the
        two window functions below then sort thousands of rows instead of every row. -#}
    select {{ key_columns | join(', ') }}, count(*) as valid_rows_with_key
    from referenced_rows
    where row_reason is null
    group by {{ key_columns | join(', ') }}
    having count(*) > 1

),

flagged_rows as (

    select
        referenced_rows.*,
        repeated_keys.valid_rows_with_key is not null as has_repeated_key
    from referenced_rows
    left join repeated_keys
        on referenced_rows.row_reason is null
        {%- for key_column in key_columns %}
        and referenced_rows.{{ key_column }} is not distinct from repeated_keys.{{ key_column }}
        {%- endfor %}

),

exact_copies_ranked as (

    {#- Among valid rows, number the identical copies of each row: copy 2, 3, ... are `duplicate`s
        of copy 1. -#}
    select
        flagged_rows.*,
        row_number() over (
            partition by {% for column in columns %}raw__{{ column.name }}{{ ", " if not loop.last }}{% endfor %}
        ) as copy_number
    from flagged_rows
    where has_repeated_key

),

deduplicated_rows as (

    {#- Among the first copies, another version of a key (same key, different values) is a
        `duplicate_key`; the version kept is the first in the order of all its values, so the
        choice does not depend on file order. -#}
    select
        exact_copies_ranked.* exclude (copy_number, has_repeated_key),
        case
            when copy_number > 1 then 'duplicate'
            when row_number() over (
                partition by copy_number = 1, {{ key_columns | join(', ') }}
                order by {% for column in columns %}cast(raw__{{ column.name }} as varchar) nulls first{{ ", " if not loop.last }}{% endfor %}
            ) > 1 then 'duplicate_key'
        end as quarantine_reason
    from exact_copies_ranked

),

all_rows as (

    select flagged_rows.* exclude (has_repeated_key), row_reason as quarantine_reason
    from flagged_rows
    where not has_repeated_key
    union all
    select * from deduplicated_rows

)

select
    '{{ table_name }}' as source_table,
    {% for key_column in key_columns %}coalesce(cast(raw__{{ key_column }} as varchar), '<null>'){{ " || '|' || " if not loop.last }}{% endfor %} as raw_key,
    {%- for column in columns %}
    {{ column.name }},
    {%- endfor %}
    quarantine_reason,
    case
        when quarantine_reason is not null then to_json(struct_pack(
            {%- for column in columns %}
            {{ column.name }} := raw__{{ column.name }}{{ "," if not loop.last }}
            {%- endfor %}
        ))
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
