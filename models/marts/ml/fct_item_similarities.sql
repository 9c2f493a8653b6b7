-- Each item's most similar items: from behaviour (the champion ml_item_similarities version, the one
-- recommendations use: users who bought one also bought the other) and from content (category, brand, price band and text;
-- the only source for items nobody has bought yet).
with behaviour as (

    select item_id, similar_item_id, similarity, rank, 'behaviour' as source
    from {{ ref('int_item_similarities_served') }}

),

content as (

    select item_id, similar_item_id, similarity, rank, 'content' as source
    from {{ ref('ml_item_content_similarities') }}

),

both_sources as (

    select * from behaviour
    union all
    select * from content

)

select
    cast(item_id as string) as item_id,
    cast(similar_item_id as string) as similar_item_id,
    cast(similarity as double) as similarity,
    cast(rank as integer) as rank,
    cast(source as string) as source
from both_sources
