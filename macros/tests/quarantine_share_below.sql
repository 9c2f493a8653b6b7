{#- The share of a raw table's rows sent to quarantine stays below a threshold. Used twice per
    table: once with the warn share (severity warn), once with the error share. Above it, the test
    says why in words: the share, the top reasons with counts and what governs each (the var to
    change or the column to fix), as an error for the error share and in the log for the warning. -#}
{% test quarantine_share_below(model, raw_table_name, max_share, share_var) %}
{%- if execute -%}
    {%- set counts = quarantine_counts([raw_table_name]).get(raw_table_name) -%}
    {%- if counts and counts[0] > 0 and counts[1] / counts[0] > max_share | float -%}
        {%- set message = quarantine_message(raw_table_name, counts[0], counts[1], counts[2])
                          ~ " — above " ~ share_var ~ " = " ~ max_share -%}
        {%- if config.get('severity', 'error') | lower == 'error' -%}
            {{ exceptions.raise_compiler_error(message) }}
        {%- else -%}
            {{ log("ltv: " ~ message, info=true) }}
        {%- endif -%}
    {%- endif -%}
{%- endif -%}
with counts as (
    select
        (select count(*) from {{ raw_table(raw_table_name) }}) as raw_rows,
        (select count(*) from {{ ref('quarantine_rows') }} where source_table = '{{ raw_table_name }}') as quarantined_rows
)
select raw_rows, quarantined_rows, quarantined_rows / raw_rows as quarantined_share
from counts
where raw_rows > 0 and quarantined_rows / raw_rows > {{ max_share }}
{% endtest %}
