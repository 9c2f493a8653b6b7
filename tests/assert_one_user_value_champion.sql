-- Exactly one user-value version is served whenever any version scored users.
select count(*) filter (where is_champion) as champions
from {{ ref('fct_user_value_versions') }}
having count(*) filter (where is_champion) <> case when max(scored_users) > 0 then 1 else 0 end
