{#-
  What quarantine holds, said so that a person can act on it: per raw table the share rejected,
  the reasons with their counts and, for each reason, what governs it (a var to change or the
  column to fix). Used by the quarantine_share_below test's failure message and by the summary
  that ends every build's log.
-#}

{#- What a reason means and what governs it. -#}
{% macro quarantine_reason_hint(reason) -%}
    {%- set latest = validated_date_var('ltv_latest_valid_timestamp', allow_empty=true) -%}
    {%- set hints = {
        'missing_required': "a required column is empty (README: the input contract)",
        'invalid_number': "not a finite number (NaN, Infinity or text; 1,234 or 19,95 reads by var ltv_source_decimal_mark, or by its table's other numbers)",
        'invalid_timestamp': "not a timestamp, date or epoch number (a year-last date 03/04/2010 reads by var ltv_source_date_order, or by a day above 12 in its column)",
        'invalid_rating': "not a whole number from 1 to 5",
        'invalid_enum': "status must be completed | cancelled | returned; event_type view | add_to_cart | search | login",
        'non_positive_quantity': "quantity 0 or less",
        'negative_price': "a price below 0 (0 is a free line and is kept)",
        'timestamp_out_of_range': "before ltv_earliest_valid_timestamp = " ~ validated_date_var('ltv_earliest_valid_timestamp')
                                  ~ " or from ltv_latest_valid_timestamp = " ~ (latest or "one day after the build"),
        'response_before_open': "first_response_at before opened_at",
        'unknown_user': "user_id is not an accepted users row (see users' quarantine)",
        'unknown_item': "item_id is not an accepted items row (see items' quarantine)",
        'unknown_order': "order_id is not an accepted orders row (see orders' quarantine)",
        'duplicate': "an exact copy of another row",
        'duplicate_key': "another version of a key that is kept",
    } -%}
    {{ return(hints.get(reason, '')) }}
{%- endmacro %}

{#- Where a model of this project is built (its schema comes from dbt_project.yml: the base tables
    are in staging), for hooks and tests that read a model without ref(). -#}
{% macro built_relation_of(model_name) %}
    {%- set node = graph.nodes['model.ltv.' ~ model_name] -%}
    {{ return(api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias)) }}
{% endmacro %}

{#- Per raw table: [raw rows, quarantined rows, [(reason, count), ...] by count], from the base
    tables that exist (a failed build may not have made them all). -#}
{% macro quarantine_counts(table_names) %}
    {%- set counts = {} -%}
    {%- for table_name in table_names -%}
        {%- set relation = built_relation_of('base_shop__' ~ table_name) -%}
        {%- if raw_relation_exists(relation) -%}
            {%- set rows = run_query("select quarantine_reason, count(*) from " ~ relation ~ " group by all order by 2 desc, 1").rows -%}
            {%- set reasons = [] -%}
            {%- set totals = {'raw': 0, 'quarantined': 0} -%}
            {%- for reason, count in rows -%}
                {%- do totals.update({'raw': totals.raw + count}) -%}
                {%- if reason is not none -%}
                    {%- do totals.update({'quarantined': totals.quarantined + count}) -%}
                    {%- do reasons.append((reason, count)) -%}
                {%- endif -%}
            {%- endfor -%}
            {%- do counts.update({table_name: [totals.raw, totals.quarantined, reasons]}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(counts) }}
{% endmacro %}

{% macro quarantine_message(table_name, raw_rows, quarantined_rows, reasons, top=5) -%}
    {%- set parts = [] -%}
    {%- for reason, count in reasons[:top] -%}
        {%- do parts.append(reason ~ " " ~ "{:,}".format(count) ~ " (" ~ quarantine_reason_hint(reason) ~ ")") -%}
    {%- endfor -%}
    {%- set share = (100.0 * quarantined_rows / raw_rows) if raw_rows else 0 -%}
    {%- set share_text = "{:.1f}".format(share) if share >= 0.1 or share == 0 else "{:.2g}".format(share) -%}
    {{ return(table_name ~ ": " ~ "{:,}".format(quarantined_rows) ~ " of " ~ "{:,}".format(raw_rows) ~ " raw rows quarantined ("
              ~ share_text ~ "%)" ~ (" — " ~ parts | join("; ") if parts else "")) }}
{%- endmacro %}

{#- on-run-end: the summary every build's log ends with, one line per raw table. -#}
{% macro log_quarantine_summary() %}
    {%- if execute -%}
        {%- set counts = quarantine_counts(raw_contract().keys() | list) -%}
        {%- set listing = built_relation_of('base_shop__raw_tables') -%}
        {%- set absent = run_query("select raw_table from " ~ listing ~ " where not is_present").rows | map(attribute=0) | list
                         if raw_relation_exists(listing) else [] -%}
        {%- if counts -%}
            {{ log("ltv quarantine summary (every rejected row is in quarantine_rows with its reason):", info=true) }}
            {%- for table_name, (raw_rows, quarantined_rows, reasons) in counts.items() -%}
                {%- if table_name in absent and raw_contract()[table_name].derived_from is not defined -%}
                    {{ log("  " ~ table_name ~ ": absent (optional; read as empty)", info=true) }}
                {%- else -%}
                    {{ log("  " ~ quarantine_message(table_name, raw_rows, quarantined_rows, reasons, top=3), info=true) }}
                {%- endif -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif -%}
    select 1
{% endmacro %}
