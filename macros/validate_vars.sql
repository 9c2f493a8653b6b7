{#-
  Every var that reaches SQL goes through one of these validators, which return a value that is
  safe to put into SQL or stop with a message naming the var. validate_vars() runs them all in
  on-run-start, so a bad value stops the build before any model runs; the models call them too,
  so `dbt compile` or `dbt show` never render an unchecked value.
-#}
{% macro validated_date_var(var_name, allow_empty=false) -%}
    {%- set value = var(var_name) | string | trim -%}
    {%- if allow_empty and value in ('', 'none', 'None') -%}
        {{ return('') }}
    {%- endif -%}
    {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', value) -%}
        {{ exceptions.raise_compiler_error("var '" ~ var_name ~ "' must be a date written YYYY-MM-DD, got '" ~ value ~ "'") }}
    {%- endif -%}
    {%- set year, month, day = value.split('-') | map('int') -%}
    {%- set days_in_month = [31, 29 if (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] -%}
    {%- if month < 1 or month > 12 or day < 1 or day > days_in_month[month - 1] -%}
        {{ exceptions.raise_compiler_error("var '" ~ var_name ~ "' is not a real calendar date: '" ~ value ~ "'") }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}

{% macro validated_number_var(var_name, minimum=none, maximum=none, integer=false, exclusive_minimum=false) -%}
    {%- set text = var(var_name) | string | trim -%}
    {%- set pattern = '-?[0-9]+' if integer else '-?[0-9]+(\\.[0-9]+)?' -%}
    {%- if not modules.re.fullmatch(pattern, text) -%}
        {{ exceptions.raise_compiler_error("var '" ~ var_name ~ "' must be " ~ ("a whole number" if integer else "a number") ~ ", got '" ~ text ~ "'") }}
    {%- endif -%}
    {%- set value = text | int if integer else text | float -%}
    {%- if minimum is not none and (value < minimum or (exclusive_minimum and value == minimum)) -%}
        {{ exceptions.raise_compiler_error("var '" ~ var_name ~ "' must be " ~ ("greater than " if exclusive_minimum else "at least ") ~ minimum ~ ", got " ~ text) }}
    {%- endif -%}
    {%- if maximum is not none and value > maximum -%}
        {{ exceptions.raise_compiler_error("var '" ~ var_name ~ "' must be at most " ~ maximum ~ ", got " ~ text) }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}

{% macro validated_boolean_var(var_name) -%}
    {%- set text = var(var_name) | string | trim | lower -%}
    {%- if text not in ('true', 'false') -%}
        {{ exceptions.raise_compiler_error("var '" ~ var_name ~ "' must be true or false, got '" ~ text ~ "'") }}
    {%- endif -%}
    {{ return(text == 'true') }}
{%- endmacro %}

{% macro validate_vars() %}
    {%- do validated_date_var('ltv_cutoff_date', allow_empty=true) -%}
    {%- do validated_number_var('ltv_horizon_days', minimum=0, integer=true, exclusive_minimum=true) -%}
    {%- do validated_number_var('ltv_holdout_share', minimum=0, maximum=0.9, exclusive_minimum=true) -%}
    {%- do validated_number_var('ltv_random_seed', minimum=0, integer=true) -%}
    {%- do validated_number_var('ltv_min_labelled_users', minimum=2, integer=true) -%}
    {%- do validated_number_var('ltv_similarity_top_k', minimum=1, maximum=1000, integer=true) -%}
    {%- do validated_number_var('ltv_recommendations_top_n', minimum=1, maximum=1000, integer=true) -%}
    {%- do validated_number_var('ltv_bm25_k1', minimum=0) -%}
    {%- do validated_number_var('ltv_bm25_b', minimum=0, maximum=1) -%}
    {%- do validated_number_var('ltv_view_weight', minimum=0) -%}
    {%- do validated_number_var('ltv_add_to_cart_weight', minimum=0) -%}
    {%- do validated_number_var('ltv_quarantine_warn_share', minimum=0, maximum=1) -%}
    {%- do validated_number_var('ltv_quarantine_error_share', minimum=0, maximum=1) -%}
    {%- do validated_date_var('ltv_earliest_valid_timestamp') -%}
    {%- do validated_date_var('ltv_latest_valid_timestamp') -%}
    {%- do validated_number_var('ltv_max_text_characters', minimum=1, integer=true) -%}
    {%- do validated_boolean_var('ltv_reuse_unchanged_work') -%}
    {%- do validated_number_var('ltv_segment_high_value_decile', minimum=1, maximum=10, integer=true) -%}
    {%- do validated_number_var('ltv_segment_at_risk_probability_alive', minimum=0, maximum=1) -%}
    {%- do validated_number_var('ltv_segment_lapsed_days', minimum=1, integer=true) -%}
    {%- do validated_number_var('ltv_segment_new_user_days', minimum=1, integer=true) -%}
    {%- do validated_number_var('ltv_segment_poor_experience_score', minimum=-1, maximum=1) -%}
    {%- do validated_number_var('ltv_segment_negative_share', minimum=0, maximum=1) -%}
    {#- A hook must render to SQL; this one only validates. -#}
    select 1
{% endmacro %}
