{#- The share of a raw table's rows sent to quarantine stays below a threshold. Used twice per
    table: once with the warn share (severity warn), once with the error share. -#}
{% test quarantine_share_below(model, raw_table_name, max_share) %}
with counts as (
    select
        (select count(*) from {{ raw_table(raw_table_name) }}) as raw_rows,
        (select count(*) from {{ ref('quarantine_rows') }} where source_table = '{{ raw_table_name }}') as quarantined_rows
)
select raw_rows, quarantined_rows, quarantined_rows / raw_rows as quarantined_share
from counts
where raw_rows > 0 and quarantined_rows / raw_rows > {{ max_share }}
{% endtest %}
