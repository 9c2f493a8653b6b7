-- Users, expected value and suggested action per segment, most valuable first.
select segment, suggested_action, users, share_of_users, expected_value, share_of_expected_value
from {{ ref('fct_segment_summary') }}
order by expected_value desc
