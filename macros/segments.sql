{#- The action suggested for each segment, in one place for dim_users and fct_segment_summary. -#}
{% macro segment_actions() -%}
    {{ return({
        'high_value_at_risk': 'Retain: member offer or personal outreach before they lapse',
        'poor_experience': 'Service follow-up: contact about the bad experience, fix the cause',
        'new': 'Nurture: onboarding journey and first-purchase guidance',
        'lapsed': 'Win back: reactivation offer based on past purchases',
        'high_potential': 'Grow: cross-sell with personal recommendations',
        'never_purchased': 'Convert: first-order incentive on recommended items',
        'steady': 'Maintain: regular newsletter and recommendations',
    }) }}
{%- endmacro %}

{% macro suggested_action(segment_column) -%}
    case {{ segment_column }}
    {%- for segment, action in segment_actions().items() %}
        when '{{ segment }}' then '{{ action }}'
    {%- endfor %}
    end
{%- endmacro %}
