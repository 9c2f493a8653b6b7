{#- Every row (optionally those matching `where_condition`) satisfies a SQL expression. -#}
{% test expression_is_true(model, expression, where_condition=none) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{%- if where_condition %}
  and ({{ where_condition }})
{%- endif %}
{% endtest %}
