-- The segment summary accounts for every user exactly once.
select
    (select count(*) from {{ ref('dim_users') }}) as users_in_dim,
    (select sum(users) from {{ ref('fct_segment_summary') }}) as users_in_summary
where (select count(*) from {{ ref('dim_users') }}) <> (select coalesce(sum(users), 0) from {{ ref('fct_segment_summary') }})
