{#- A public table is not empty when its input allows rows: a green build whose main answer is
    empty is a defect. `when` is a SQL condition on the input (e.g. "exists (select 1 from ...)");
    the test fails, returning one row, if the condition holds and the model has no row. -#}
{% test has_rows_when(model, when, because) %}
select '{{ because | replace("'", "''") }}' as expected_because
where ({{ when }})
  and not exists (select 1 from {{ model }})
{% endtest %}
