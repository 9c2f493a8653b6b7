-- One row per support conversation and experience version: the message's sentiment, the response
-- time, the experience score and the satisfaction it predicts, beside the rating the user gave.
{%- set versions = [1, 2] %}
{%- set relations = [] %}
{%- for version in versions %}{% do relations.append(ref('ml_conversation_experience', v=version)) %}{% endfor %}

with scored as ({{ ltv_union_all_by_name(relations) }}

)

select
    cast(conversation_id as string) as conversation_id,
    cast(user_id as string) as user_id,
    cast(model_version as integer) as model_version,
    cast(response_hours as double) as response_hours,
    cast(normalized_response_time as double) as normalized_response_time,
    cast(sentiment as double) as sentiment,
    cast(experience_score as double) as experience_score,
    cast(predicted_satisfaction as double) as predicted_satisfaction,
    cast(satisfaction_rating as integer) as satisfaction_rating
from scored
