-- Users, predicted spend and suggested action per segment, most valuable first.
select segment, suggested_action, users, share_of_users, total_predicted_spend, share_of_predicted_spend
from {{ ref('fct_segment_summary') }}
order by total_predicted_spend desc
