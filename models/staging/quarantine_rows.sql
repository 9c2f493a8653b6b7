{{ config(materialized='table') }}

-- Every raw row that staging could not use, with the first rule it failed. Together with the
-- staging models this accounts for every raw row (see the reconciles_with_raw tests).
{%- set base_models = ['base_shop__users', 'base_shop__items', 'base_shop__orders', 'base_shop__order_items',
                       'base_shop__events', 'base_shop__reviews', 'base_shop__support_conversations'] %}

with quarantined as (
    {%- for base_model in base_models %}

    select source_table, raw_key, quarantine_reason as reason, raw_row_json as raw_row, checked_at
    from {{ ref(base_model) }}
    where quarantine_reason is not null
    {{ "union all" if not loop.last }}
    {%- endfor %}

)

select
    source_table,
    raw_key,
    reason,
    raw_row,
    checked_at as loaded_at
from quarantined
