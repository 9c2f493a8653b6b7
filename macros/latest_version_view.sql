{#- After the latest version of a versioned model builds, the unsuffixed name becomes a view over it,
    so BI and ad-hoc queries use one stable name (fct_user_value_predictions) while older versions
    stay queryable as <name>_v<N>. Unversioned models are left alone. -#}
{% macro create_latest_version_view() %}
    {%- set version = model.get('version') -%}
    {%- set latest_version = model.get('latest_version') -%}
    {#- A model whose unsuffixed name serves a champion (meta.unsuffixed_view: champion) gets that
        view from the model that picks the champion, not from its latest version. -#}
    {%- set serves_champion = (model.config.get('meta') or {}).get('unsuffixed_view') == 'champion' -%}
    {%- if version is not none and latest_version is not none and this.identifier != model.name
          and version | string == latest_version | string and not serves_champion -%}
        create or replace view {{ this.schema }}.{{ model.name }} as select * from {{ this }}
    {%- else -%}
        select 1
    {%- endif -%}
{% endmacro %}
