-- How each user's texts and support contacts felt, from the latest sentiment and experience
-- versions. A text is negative when its polarity is below 0 (each source's texts are scored by the
-- model validated on that source's ratings); a conversation is negative when its experience score
-- is below 0.
with latest_sentiment as (

    select user_id, written_at, polarity
    from {{ ref('fct_text_sentiment') }}
    where model_version = (select max(model_version) from {{ ref('fct_text_sentiment') }})
      and polarity is not null

),

latest_experience as (

    select conversations.user_id, conversations.response_hours, conversations.experience_score, support.opened_at
    from {{ ref('fct_conversation_experience') }} as conversations
    inner join {{ ref('stg_shop__support_conversations') }} as support
        on conversations.conversation_id = support.conversation_id
    where conversations.model_version = (select max(model_version) from {{ ref('fct_conversation_experience') }})

),

text_summary as (

    select
        user_id,
        count(*) as scored_texts,
        {{ exact_avg('polarity') }} as average_sentiment,
        {{ exact_avg('case when polarity < 0 then 1 else 0 end') }} as negative_text_share,
        max(case when polarity < 0 then written_at end) as last_negative_text_at
    from latest_sentiment
    group by user_id

),

conversation_summary as (

    select
        user_id,
        count(*) as support_conversations,
        {{ exact_avg('response_hours') }} as average_response_hours,
        {{ exact_avg('experience_score') }} as average_experience_score,
        max(case when experience_score < 0 then opened_at end) as last_negative_conversation_at
    from latest_experience
    group by user_id

),

users_with_either as (

    select user_id from text_summary
    union
    select user_id from conversation_summary

)

select
    cast(users_with_either.user_id as string) as user_id,
    cast(coalesce(text_summary.scored_texts, 0) as integer) as scored_texts,
    cast(text_summary.average_sentiment as double) as average_sentiment,
    cast(text_summary.negative_text_share as double) as negative_text_share,
    cast(coalesce(conversation_summary.support_conversations, 0) as integer) as support_conversations,
    cast(conversation_summary.average_response_hours as double) as average_response_hours,
    cast(conversation_summary.average_experience_score as double) as average_experience_score,
    cast(greatest(text_summary.last_negative_text_at, conversation_summary.last_negative_conversation_at) as date)
        as last_negative_interaction_on
from users_with_either
left join text_summary on users_with_either.user_id = text_summary.user_id
left join conversation_summary on users_with_either.user_id = conversation_summary.user_id
