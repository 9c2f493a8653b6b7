-- One row per user for the business: value, churn risk, experience, top recommendations and a
-- segment with a suggested action. Segment rules are evaluated in order, the first match wins;
-- thresholds are vars (documented in _core__docs.md, validated before anything runs).
{%- set high_value_decile = number_setting('ltv_segment_high_value_decile') %}
{%- set at_risk_probability = number_setting('ltv_segment_at_risk_probability_alive') %}
{%- set lapsed_days = number_setting('ltv_segment_lapsed_days') %}
{%- set new_user_days = number_setting('ltv_segment_new_user_days') %}
{%- set poor_experience_score = number_setting('ltv_segment_poor_experience_score') %}
{%- set negative_share = number_setting('ltv_segment_negative_share') %}

with users as (

    select user_id, signed_up_at, country
    from {{ ref('stg_shop__users') }}

),

features as (

    select user_id, days_since_signup, days_since_last_activity, has_purchase, completed_orders, net_spend
    from {{ ref('int_user_features_latest') }}

),

latest_value as (

    -- The champion version's predictions (fct_user_value_versions), not blindly the latest version.
    select user_id, model_version, predicted_spend, value_decile
    from ({{ served_user_value_predictions_sql() }}) as served

),

churn as (

    select user_id, probability_alive
    from {{ ref('fct_user_value_predictions', v=2) }}

),

experience as (

    select user_id, average_experience_score, negative_text_share, average_sentiment, last_negative_interaction_on
    from {{ ref('fct_user_experience') }}

),

top_recommendations as (

    select
        user_id,
        max(case when rank = 1 then item_id end) as recommended_item_1,
        max(case when rank = 2 then item_id end) as recommended_item_2,
        max(case when rank = 3 then item_id end) as recommended_item_3,
        bool_or(is_fallback) as recommendations_are_fallback
    -- The champion similarity version's recommendations (fct_recommendation_versions).
    from ({{ served_recommendations_sql() }}) as served
    where rank <= 3
    group by user_id

),

joined as (

    select
        users.user_id,
        users.signed_up_at,
        users.country,
        coalesce(features.days_since_signup, 0) as days_since_signup,
        coalesce(features.days_since_last_activity, 0) as days_since_last_activity,
        coalesce(features.has_purchase, false) as has_purchase,
        coalesce(features.completed_orders, 0) as completed_orders,
        coalesce(features.net_spend, 0) as net_spend,
        latest_value.model_version as value_model_version,
        latest_value.predicted_spend,
        latest_value.value_decile,
        churn.probability_alive,
        experience.average_experience_score,
        experience.average_sentiment,
        experience.negative_text_share,
        experience.last_negative_interaction_on,
        top_recommendations.recommended_item_1,
        top_recommendations.recommended_item_2,
        top_recommendations.recommended_item_3,
        top_recommendations.recommendations_are_fallback,
        -- Signed up after the latest order date: no features or prediction yet.
        features.user_id is null as signed_up_after_scoring
    from users
    left join features on users.user_id = features.user_id
    left join latest_value on users.user_id = latest_value.user_id
    left join churn on users.user_id = churn.user_id
    left join experience on users.user_id = experience.user_id
    left join top_recommendations on users.user_id = top_recommendations.user_id

),

segmented as (

    select
        joined.*,
        case
            when value_decile >= {{ high_value_decile }} and probability_alive < {{ at_risk_probability }}
                then 'high_value_at_risk'
            when average_experience_score < {{ poor_experience_score }} or negative_text_share >= {{ negative_share }}
                then 'poor_experience'
            when signed_up_after_scoring or days_since_signup <= {{ new_user_days }}
                then 'new'
            when has_purchase and days_since_last_activity > {{ lapsed_days }}
                then 'lapsed'
            when value_decile >= {{ high_value_decile }}
                then 'high_potential'
            when not has_purchase
                then 'never_purchased'
            else 'steady'
        end as segment
    from joined

)

select
    cast(user_id as string) as user_id,
    cast(signed_up_at as timestamp) as signed_up_at,
    cast(country as string) as country,
    cast(days_since_signup as integer) as days_since_signup,
    cast(days_since_last_activity as integer) as days_since_last_activity,
    cast(completed_orders as integer) as completed_orders,
    cast(net_spend as double) as net_spend,
    cast(value_model_version as integer) as value_model_version,
    cast(predicted_spend as double) as predicted_spend,
    cast(value_decile as integer) as value_decile,
    cast(probability_alive as double) as probability_alive,
    cast(1 - probability_alive as double) as churn_risk,
    cast(average_experience_score as double) as average_experience_score,
    cast(average_sentiment as double) as average_sentiment,
    cast(negative_text_share as double) as negative_text_share,
    cast(last_negative_interaction_on as date) as last_negative_interaction_on,
    cast(recommended_item_1 as string) as recommended_item_1,
    cast(recommended_item_2 as string) as recommended_item_2,
    cast(recommended_item_3 as string) as recommended_item_3,
    cast(recommendations_are_fallback as boolean) as recommendations_are_fallback,
    cast(segment as string) as segment,
    cast({{ suggested_action('segment') }} as string) as suggested_action
from segmented
