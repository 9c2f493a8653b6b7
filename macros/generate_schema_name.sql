{#- A custom schema is used as given (`raw`, not `main_raw`): the input contract promises the
    raw tables live in a schema called raw, whatever the target, and the internals' schemas
    (staging, intermediate, ml: dbt_project.yml) are named so that a reader finds them by name.
    A model without one is built in the target schema (main), which holds only the public relations. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
