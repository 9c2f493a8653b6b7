{#- Within each group the ranks are exactly 1..n (unique, no gaps), and `ordered_by` never
    increases as the rank grows (a ranked list sorted best first). -#}
{% test ranks_are_consecutive(model, column_name, group_by, ordered_by=none) %}
with ranked as (
    select
        {{ group_by | join(', ') }},
        {{ column_name }} as rank_value,
        row_number() over (partition by {{ group_by | join(', ') }} order by {{ column_name }}) as expected_rank
        {%- if ordered_by %},
        {{ ordered_by }} as ordered_value,
        lag({{ ordered_by }}) over (partition by {{ group_by | join(', ') }} order by {{ column_name }}) as previous_ordered_value
        {%- endif %}
    from {{ model }}
)
select *
from ranked
where rank_value is distinct from expected_rank
{%- if ordered_by %}
   or ordered_value > previous_ordered_value
{%- endif %}
{% endtest %}
