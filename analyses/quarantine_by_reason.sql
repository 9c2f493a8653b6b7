-- Rejected raw rows per table and reason, with one example each.
select source_table, reason, count(*) as rows_quarantined, any_value(raw_row) as example
from {{ ref('quarantine_rows') }}
group by source_table, reason
order by source_table, rows_quarantined desc
