{#-
  What BI is served for a model family with versions: the champion version's output, chosen on
  this build's holdout or offline evaluation, not blindly the latest version (which may not have
  fitted, or may be worse). Each family's *_versions model picks the champion; its post-hook makes
  the unsuffixed name a view of the champion's rows, documented like the contracted tables; dim_users
  reads the same SQL.
-#}

{#- The per-user explanation every ml_user_value version returns (src/ltv/user_value/explanations.py), typed
    once for the four fct_user_value_predictions_vN and the served view: the three features that move
    the user's predicted_spend most, each with its signed contribution. -#}
{% macro user_value_driver_columns() -%}
    {%- for slot in [1, 2, 3] -%}
    cast(driver_{{ slot }} as string) as driver_{{ slot }},
        cast(driver_{{ slot }}_contribution as double) as driver_{{ slot }}_contribution{{ "," if not loop.last }}
        {% endfor -%}
{%- endmacro %}

{#- The typed columns of a fct_user_value_predictions_vN, in contract order: those every version shares,
    with the version's own numeric columns (version_columns, doubles) before features_as_of_date. The
    served view takes the shared ones only. -#}
{% macro user_value_prediction_columns(version_columns=[]) -%}
    cast(user_id as string) as user_id,
        cast(model_version as integer) as model_version,
        cast(predicted_spend as double) as predicted_spend,
        cast(value_decile as integer) as value_decile,
        {% for column in version_columns -%}
        cast({{ column }} as double) as {{ column }},
        {% endfor -%}
        cast(features_as_of_date as date) as features_as_of_date,
        {{ user_value_driver_columns() }}
{%- endmacro %}

{#- User value (fct_user_value_versions): the columns and types every fct_user_value_predictions_vN shares. -#}
{% macro served_user_value_predictions_sql(versions=[1, 2, 3, 4], versions_relation=none) -%}
    {#- versions_relation: the *_versions model itself when its own post-hook calls this (a ref to
        itself would be a cycle). -#}
    {%- set versions_relation = versions_relation or ref('fct_user_value_versions') -%}
    {%- for version in versions %}
    select
        {{ user_value_prediction_columns() }}
    from {{ ref('ml_user_value', v=version) }}
    where {{ version }} = (select model_version from {{ versions_relation }} where is_champion)
    {{ "union all" if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- Recommendations (fct_recommendation_versions): the contracted fct_user_recommendations_vN of the champion. -#}
{% macro served_recommendations_sql(versions=[1, 2, 3], versions_relation=none) -%}
    {%- set versions_relation = versions_relation or ref('fct_recommendation_versions') -%}
    {%- for version in versions %}
    select user_id, rank, item_id, score, because_item_id, is_fallback
    from {{ ref('fct_user_recommendations', v=version) }}
    where {{ version }} = (select model_version from {{ versions_relation }} where is_champion)
    {{ "union all" if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- fct_user_value_versions' post-hook (Spark's: macros/spark/spark_user_value.sql). -#}
{% macro create_served_user_value_view() %}
    {{ return(adapter.dispatch('create_served_user_value_view')()) }}
{% endmacro %}

{% macro served_user_value_view_comment() -%}
    {{ return("Expected net spend per user over the next horizon from the champion user-value version "
              ~ "(chosen on this build's holdout: see fct_user_value_versions); one row per user, with the three "
              ~ "features that move the user's prediction most and what each adds to it.") }}
{%- endmacro %}

{% macro default__create_served_user_value_view() %}
    create or replace view {{ this.schema }}.fct_user_value_predictions as
    {{ served_user_value_predictions_sql(versions_relation=this) }};
    {{ comment_served_view(this.schema ~ '.fct_user_value_predictions', this.schema ~ '.fct_user_value_predictions_v1',
                           served_user_value_view_comment(),
                           ['user_id', 'model_version', 'predicted_spend', 'value_decile', 'features_as_of_date',
                            'driver_1', 'driver_1_contribution', 'driver_2', 'driver_2_contribution',
                            'driver_3', 'driver_3_contribution']) }}
{% endmacro %}

{#- fct_recommendation_versions' post-hook. The served view is what BI shows, so it carries the
    item's title and category for display (dim_items); the versioned tables stay bare ids. -#}
{% macro create_served_recommendations_view() %}
    {{- return(adapter.dispatch('create_served_recommendations_view')()) -}}
{% endmacro %}

{% macro default__create_served_recommendations_view() %}
    create or replace view {{ this.schema }}.fct_user_recommendations as
    select served.*, items.title as item_title, items.category as item_category
    from ({{ served_recommendations_sql(versions_relation=this) }}) as served
    left join {{ ref('dim_items') }} as items on served.item_id = items.item_id;
    {{ comment_served_view(this.schema ~ '.fct_user_recommendations', this.schema ~ '.fct_user_recommendations_v2',
                           "Each user's top-N items from the champion similarity version (chosen on the offline "
                           ~ "evaluation: see fct_recommendation_versions); never an item the user already bought.",
                           ['user_id', 'rank', 'item_id', 'score', 'because_item_id', 'is_fallback'],
                           {'item_title': "The recommended item's title (dim_items.title); NULL when the catalogue has none.",
                            'item_category': "The recommended item's category (dim_items.category); NULL when the catalogue has none."}) }}
{% endmacro %}

{#- A served view carries its documentation into the catalogue like the contracted tables do
    (persist_docs does not reach views a hook creates): the view's own comment, and each column's
    comment copied from the contracted version it serves. -#}
{#- own_comments: {column: comment} for the view's columns that no contracted version has. -#}
{% macro comment_served_view(view_name, documented_relation, description, columns, own_comments={}) -%}
    comment on view {{ view_name }} is '{{ description | replace("'", "''") }}'
    {%- if execute -%}
        {#- Rendered before the view is created, so the columns are named, not read from the view. -#}
        {%- set schema_name, table_name = documented_relation.split('.') -%}
        {%- set documented = run_query("select column_name, comment from duckdb_columns() where database_name = current_database()"
                                       ~ " and schema_name = '" ~ schema_name ~ "' and table_name = '" ~ table_name
                                       ~ "' and comment is not null") -%}
        {%- for column_name, comment in documented.rows if column_name in columns -%}
        ;
    comment on column {{ view_name }}.{{ column_name }} is '{{ comment | replace("'", "''") }}'
        {%- endfor -%}
    {%- endif -%}
    {%- for column_name, comment in own_comments.items() -%}
    ;
    comment on column {{ view_name }}.{{ column_name }} is '{{ comment | replace("'", "''") }}'
    {%- endfor -%}
{%- endmacro %}
