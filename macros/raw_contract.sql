{#-
  The input contract, written once: for each raw table its key, its columns and which of them a real
  shop may not have. Base models, the quarantine rules, the empty stand-ins for absent optional
  tables and the README's contract table all follow it.

  column fields
    name      contract column name
    type      'id' | 'text' | 'timestamp' | 'number' | 'integer' | 'rating'. An id is text, except that a
              whole number written as a float (17850.0) reads as its digits (id_as_text)
    required  a null (or blank) value makes the row unusable (reason missing_required)
    optional  the column may be absent from the raw table: it is then read as null. Every optional
              column is also nullable; real catalogues often have no brand or description, many
              shops record no country or sign-up date, and a review of the shop or of an order as a
              whole (post-purchase surveys, order reviews) has no item: its text and rating count for
              sentiment and experience, not for recommendations
    allowed   for enumerations: the accepted lower-case values
    synonyms  for enumerations: other words exports use for an accepted value, read as it ('canceled' in
              US English; 'complete', 'delivered', 'refunded', 'voided' and WooCommerce's 'wc-*' in shop
              platforms' order exports; 'addtocart' and 'cart' in public event logs). Only words of the
              same meaning: an order still in progress ('processing', 'shipped') is none of the three
    sign      'positive' (quantity: > 0, else non_positive_quantity) or 'non_negative' (prices:
              0 is a free line or item, < 0 is negative_price)
  table fields
    optional  the table may be absent (no file, no warehouse table): it is read as empty and what
              depends on it is empty. Orders-only shops have no events, reviews or support data.
    derived_from [[table, column], ...]: an absent table is read instead as the distinct ids those
              columns name, every other column null: a shop without a customer file (guest checkouts)
              or a catalogue still has the users its orders, events, reviews and conversations name and
              the items its order lines and events name.
-#}
{% macro raw_contract() -%}
    {{ return({
        'users': {'key': ['user_id'], 'optional': true,
                  'derived_from': [['orders', 'user_id'], ['events', 'user_id'], ['reviews', 'user_id'],
                                   ['support_conversations', 'user_id']], 'columns': [
            {'name': 'user_id', 'type': 'id', 'required': true},
            {'name': 'signed_up_at', 'type': 'timestamp', 'required': false, 'optional': true},
            {'name': 'country', 'type': 'text', 'required': false, 'optional': true},
        ]},
        'items': {'key': ['item_id'], 'optional': true,
                  'derived_from': [['order_items', 'item_id'], ['events', 'item_id']], 'columns': [
            {'name': 'item_id', 'type': 'id', 'required': true},
            {'name': 'title', 'type': 'text', 'required': false, 'optional': true},
            {'name': 'category', 'type': 'text', 'required': false, 'optional': true},
            {'name': 'brand', 'type': 'text', 'required': false, 'optional': true},
            {'name': 'price', 'type': 'number', 'required': false, 'optional': true, 'sign': 'non_negative'},
            {'name': 'description', 'type': 'text', 'required': false, 'optional': true},
        ]},
        'orders': {'key': ['order_id'], 'optional': false, 'columns': [
            {'name': 'order_id', 'type': 'id', 'required': true},
            {'name': 'user_id', 'type': 'id', 'required': true},
            {'name': 'ordered_at', 'type': 'timestamp', 'required': true},
            {'name': 'status', 'type': 'text', 'required': true, 'allowed': ['completed', 'cancelled', 'returned'],
             'synonyms': {'complete': 'completed', 'wc-completed': 'completed', 'delivered': 'completed',
                          'fulfilled': 'completed', 'paid': 'completed',
                          'canceled': 'cancelled', 'wc-cancelled': 'cancelled', 'voided': 'cancelled',
                          'refunded': 'returned', 'wc-refunded': 'returned'}},
        ]},
        'order_items': {'key': ['order_id', 'item_id'], 'optional': false, 'columns': [
            {'name': 'order_id', 'type': 'id', 'required': true},
            {'name': 'item_id', 'type': 'id', 'required': true},
            {'name': 'quantity', 'type': 'integer', 'required': true, 'sign': 'positive'},
            {'name': 'unit_price', 'type': 'number', 'required': true, 'sign': 'non_negative'},
        ]},
        'events': {'key': ['event_id'], 'optional': true, 'columns': [
            {'name': 'event_id', 'type': 'id', 'required': true},
            {'name': 'user_id', 'type': 'id', 'required': true},
            {'name': 'item_id', 'type': 'id', 'required': false},
            {'name': 'event_type', 'type': 'text', 'required': true, 'allowed': ['view', 'add_to_cart', 'search', 'login'],
             'synonyms': {'addtocart': 'add_to_cart', 'add-to-cart': 'add_to_cart', 'add to cart': 'add_to_cart',
                           'cart': 'add_to_cart'}},
            {'name': 'occurred_at', 'type': 'timestamp', 'required': true},
        ]},
        'reviews': {'key': ['review_id'], 'optional': true, 'columns': [
            {'name': 'review_id', 'type': 'id', 'required': true},
            {'name': 'user_id', 'type': 'id', 'required': true},
            {'name': 'item_id', 'type': 'id', 'required': false, 'optional': true},
            {'name': 'rating', 'type': 'rating', 'required': true},
            {'name': 'comment', 'type': 'text', 'required': false, 'optional': true},
            {'name': 'created_at', 'type': 'timestamp', 'required': true},
        ]},
        'support_conversations': {'key': ['conversation_id'], 'optional': true, 'columns': [
            {'name': 'conversation_id', 'type': 'id', 'required': true},
            {'name': 'user_id', 'type': 'id', 'required': true},
            {'name': 'opened_at', 'type': 'timestamp', 'required': true},
            {'name': 'first_response_at', 'type': 'timestamp', 'required': true},
            {'name': 'message', 'type': 'text', 'required': false, 'optional': true},
            {'name': 'satisfaction_rating', 'type': 'rating', 'required': false, 'optional': true},
        ]},
    }) }}
{%- endmacro %}


{#- What an absent optional raw table is read as, with the table's contract columns, all text (like
    a CSV read as text, so the same checks apply): no rows, or for a table derived_from another the
    distinct ids those tables name (derived_sources: [relation, column] pairs). -#}
{% macro absent_raw_table_sql(table_name, derived_sources=none) -%}
    {%- set table = raw_contract()[table_name] -%}
    {%- if not derived_sources -%}
        {{ return(empty_raw_table_sql(table_name)) }}
    {%- endif -%}
    select distinct
        {%- for column in table.columns %}
        {{ id_as_text('named_id', 'VARCHAR') if column.name == table.key[0] else 'cast(null as string)' }} as {{ adapter.quote(column.name) }}{{ "," if not loop.last }}
        {%- endfor %}
    from (
        {%- for relation, column_name in derived_sources %}
        select cast({{ adapter.quote(column_name) }} as string) as named_id from {{ relation }}
        {{ "union all" if not loop.last }}
        {%- endfor %}
    ) as named
    where nullif(trim(named_id), '') is not null
{%- endmacro %}

{#- An empty relation with the table's contract columns, all text. -#}
{% macro empty_raw_table_sql(table_name) -%}
    select
        {%- for column in raw_contract()[table_name]['columns'] %}
        cast(null as string) as {{ adapter.quote(column.name) }}{{ "," if not loop.last }}
        {%- endfor %}
    where false
{%- endmacro %}
