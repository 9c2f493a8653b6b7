{#- Nothing is lost: the raw table's row count equals the rows staging accepted plus the rows
    quarantine_rows holds for that table, exactly. Attach to the staging model. -#}
{% test reconciles_with_raw(model, raw_table_name) %}
with raw_count as (
    select count(*) as row_count from {{ raw_table(raw_table_name) }}
),
accepted_count as (
    select count(*) as row_count from {{ model }}
),
quarantined_count as (
    select count(*) as row_count from {{ ref('quarantine_rows') }} where source_table = '{{ raw_table_name }}'
)
select
    raw_count.row_count as raw_rows,
    accepted_count.row_count as accepted_rows,
    quarantined_count.row_count as quarantined_rows
from raw_count, accepted_count, quarantined_count
where raw_count.row_count <> accepted_count.row_count + quarantined_count.row_count
{% endtest %}
