{#- Sums and averages of DOUBLE columns that give the same bits on every run. DuckDB aggregates
    in parallel, so a double sum depends on the order threads combine their parts and two builds
    on the same data can differ in the last bits. Summing as DECIMAL is exact, hence order-free;
    10 decimal places keep cents and scores far below any meaningful difference. -#}
{% macro exact_sum(expression) -%}
    cast(sum(cast({{ expression }} as decimal(38, 10))) as double)
{%- endmacro %}

{% macro exact_avg(expression) -%}
    cast(avg(cast({{ expression }} as decimal(38, 10))) as double)
{%- endmacro %}
