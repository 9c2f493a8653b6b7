{#- fct_recommendation_versions' post-hook on Spark (macros/served_champions.sql): the same served view
    of the champion's recommendations with the items' titles and categories. A Spark session runs one
    statement per call, so the hook runs it itself and renders a no-op; the view carries its own
    comment, not its columns' (Spark's catalogue is not asked for the contracted versions' comments). -#}
{% macro spark__create_served_recommendations_view() %}
    {%- if execute -%}
        {%- set description = "Each user's top-N items from the champion similarity version (chosen on the offline "
                              ~ "evaluation: see fct_recommendation_versions); never an item the user already bought." -%}
        {%- do run_query("create or replace view " ~ this.schema ~ ".fct_user_recommendations"
                         ~ " comment '" ~ description | replace("'", "\\'") ~ "' as"
                         ~ " select served.*, items.title as item_title, items.category as item_category"
                         ~ " from (" ~ served_recommendations_sql(versions_relation=this) ~ ") as served"
                         ~ " left join " ~ ref('dim_items') ~ " as items on served.item_id = items.item_id") -%}
    {%- endif -%}
    {{ return('select 1') }}
{% endmacro %}
