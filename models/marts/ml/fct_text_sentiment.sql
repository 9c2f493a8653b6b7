-- One row per text (review comment or support message) and sentiment version. Texts are masked
-- (no e-mail, phone or card numbers reach this table); empty texts keep their row with null scores.
{%- set versions = [1, 2] %}

with texts as (

    select text_source, source_id, user_id, written_at, rating, masked_text, text_hash, is_truncated
    from {{ ref('int_texts_masked') }}

),

scores as (
    {%- for version in versions %}

    select {{ version }} as model_version, text_source, text_hash, polarity, subjectivity, not_scored_reason
    from {{ ref('ml_text_sentiment', v=version) }}
    {{ "union all" if not loop.last }}
    {%- endfor %}

),

-- The language is v1's detection (v2 reads any language and does not need one).
languages as (

    select text_source, text_hash, language
    from {{ ref('ml_text_sentiment', v=1) }}

),

versions as (

    select {{ ltv_unnest_values(versions) }} as model_version

)

select
    cast(texts.text_source as string) as text_source,
    cast(texts.source_id as string) as source_id,
    cast(texts.user_id as string) as user_id,
    cast(versions.model_version as integer) as model_version,
    cast(texts.written_at as timestamp) as written_at,
    cast(texts.rating as integer) as rating,
    cast(texts.masked_text as string) as masked_text,
    cast(texts.text_hash as string) as text_hash,
    cast(texts.is_truncated as boolean) as is_truncated,
    cast(scores.polarity as double) as polarity,
    cast(scores.subjectivity as double) as subjectivity,
    cast(languages.language as string) as language,
    cast(case
        when texts.masked_text is null then 'empty_text'
        when scores.text_hash is null then 'not_scored'
        else scores.not_scored_reason
    end as string) as not_scored_reason
from texts
cross join versions
left join scores
    on texts.text_source = scores.text_source
   and texts.text_hash = scores.text_hash
   and versions.model_version = scores.model_version
left join languages
    on texts.text_source = languages.text_source
   and texts.text_hash = languages.text_hash
-- A text's rows next to each other: its text and hash are then stored once per block instead of twice
-- (the large shop: 436 -> 267 MB, the largest public table, and about 1 CPU-s less to write it).
{{ write_order('texts.text_source, texts.source_id, versions.model_version') }}
