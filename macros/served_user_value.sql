{#- The user-value predictions BI is served: those of the champion version (fct_user_value_versions,
    chosen on this build's holdout), in the columns and types every fct_user_value_predictions_vN shares. dim_users reads this, and
    fct_user_value_versions' post-hook makes the unsuffixed fct_user_value_predictions a view of it. -#}
{% macro served_user_value_predictions_sql(versions=[1, 2, 3], versions_relation=none) -%}
    {#- versions_relation: fct_user_value_versions itself, when its own post-hook calls this (a ref
        to itself would be a cycle). -#}
    {%- set versions_relation = versions_relation or ref('fct_user_value_versions') -%}
    {%- for version in versions %}
    select
        cast(user_id as varchar) as user_id,
        cast(model_version as integer) as model_version,
        cast(predicted_spend as double) as predicted_spend,
        cast(value_decile as integer) as value_decile,
        cast(scored_at as timestamp) as scored_at
    from {{ ref('ml_user_value', v=version) }}
    where {{ version }} = (select model_version from {{ versions_relation }} where is_champion)
    {{ "union all" if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- fct_user_value_versions' post-hook: the unsuffixed fct_user_value_predictions serves the champion
    (not the latest version, which may not have fitted or may be worse). -#}
{% macro create_served_user_value_view() %}
    create or replace view {{ this.schema }}.fct_user_value_predictions as
    {{ served_user_value_predictions_sql(versions_relation=this) }};
    {{ comment_served_view(this.schema ~ '.fct_user_value_predictions', this.schema ~ '.fct_user_value_predictions_v1',
                           "Expected net spend per user over the next horizon from the champion user-value version "
                           ~ "(chosen on this build's holdout: see fct_user_value_versions); one row per user.") }}
{% endmacro %}

{#- A served view carries its documentation into the catalogue like the contracted tables do
    (persist_docs does not reach views a hook creates): the view's own comment, and each column's
    comment copied from the contracted version it serves. -#}
{% macro comment_served_view(view_name, documented_relation, description) -%}
    comment on view {{ view_name }} is '{{ description | replace("'", "''") }}'
    {%- if execute -%}
        {%- set schema_name, table_name = documented_relation.split('.') -%}
        {%- set documented = run_query("select column_name, comment from duckdb_columns() where schema_name = '" ~ schema_name
                                       ~ "' and table_name = '" ~ table_name ~ "' and comment is not null") -%}
        {%- for column_name, comment in documented.rows if column_name in ('user_id', 'model_version', 'predicted_spend', 'value_decile', 'scored_at') -%}
        ;
    comment on column {{ view_name }}.{{ column_name }} is '{{ comment | replace("'", "''") }}'
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
