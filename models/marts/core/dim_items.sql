-- One row per accepted catalogue item, for display next to recommendations and similarities (they
-- carry bare item ids). Real catalogues often lack title, category, brand or price: those stay NULL.
-- buyers is the popularity the recommendations' fallback ranks by: distinct users with the item on a
-- completed order (returned and cancelled orders are not purchases).
with buyers as (

    select order_items.item_id, count(distinct orders.user_id) as buyers
    from {{ ref('stg_shop__order_items') }} as order_items
    inner join {{ ref('stg_shop__orders') }} as orders
        on order_items.order_id = orders.order_id
    where orders.status = 'completed'
    group by order_items.item_id

)

select
    cast(items.item_id as string) as item_id,
    cast(items.title as string) as title,
    cast(items.category as string) as category,
    cast(items.brand as string) as brand,
    cast(items.price as double) as price,
    cast(coalesce(buyers.buyers, 0) as integer) as buyers
from {{ ref('stg_shop__items') }} as items
left join buyers on items.item_id = buyers.item_id
