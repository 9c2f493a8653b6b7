{#- The contracted columns of ml_user_recommendations vN, one select for every version's public face. -#}
{% macro typed_user_recommendations(version) %}
select
    cast(user_id as string) as user_id,
    cast(rank as integer) as rank,
    cast(item_id as string) as item_id,
    cast(score as double) as score,
    cast(because_item_id as string) as because_item_id,
    cast(is_fallback as boolean) as is_fallback
from {{ ref('ml_user_recommendations', v=version) }}
{% endmacro %}
