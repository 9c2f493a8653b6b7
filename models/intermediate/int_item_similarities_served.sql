{{ config(materialized='view') }}
-- The behaviour similarities of the champion version (fct_recommendation_versions, chosen on the
-- offline evaluation), which fct_item_similarities shows beside the served recommendations. A view: it only
-- filters the versions' tables.
{%- set versions = [1, 2, 3] %}
{%- for version in versions %}

select item_id, similar_item_id, similarity, rank, model_version
from {{ ref('ml_item_similarities', v=version) }}
where {{ version }} = (select model_version from {{ ref('fct_recommendation_versions') }} where is_champion)
{{ "union all" if not loop.last }}
{%- endfor %}
