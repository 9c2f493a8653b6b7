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
    {%- set range_text = ("greater than " if exclusive_minimum else "at least ") ~ minimum if minimum is not none else "" -%}
    {%- set range_text = range_text ~ (" and " if range_text and maximum is not none else "") ~ ("at most " ~ maximum if maximum is not none else "") -%}
    {%- if (minimum is not none and (value < minimum or (exclusive_minimum and value == minimum)))
          or (maximum is not none and value > maximum) -%}
        {{ exceptions.raise_compiler_error("var '" ~ var_name ~ "' must be " ~ range_text ~ ", got " ~ text) }}
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

{#- One of a fixed list of words. -#}
{% macro validated_choice_var(var_name, choices) -%}
    {%- set value = var(var_name) | string | trim -%}
    {%- if value not in choices -%}
        {{ exceptions.raise_compiler_error("var '" ~ var_name ~ "' must be one of " ~ choices | join(', ') ~ ", got '" ~ value ~ "'") }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}

{#- A two-letter region code (ISO 3166-1 alpha-2, upper case), as libphonenumber names regions. -#}
{% macro validated_region_var(var_name) -%}
    {%- set value = var(var_name) | string | trim -%}
    {%- if not modules.re.fullmatch('[A-Z]{2}', value) -%}
        {{ exceptions.raise_compiler_error("var '" ~ var_name ~ "' must be a two-letter region code such as US, GB, DE or CN, got '" ~ value ~ "'") }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}

{#- An IANA time zone name (Europe/London, Asia/Shanghai, UTC), as DuckDB's ICU knows them. -#}
{% macro validated_time_zone_var(var_name) -%}
    {%- set value = var(var_name) | string | trim -%}
    {%- if value not in modules.pytz.all_timezones_set -%}
        {{ exceptions.raise_compiler_error("var '" ~ var_name ~ "' must be a time zone name such as UTC, Europe/London or Asia/Shanghai, got '" ~ value ~ "'") }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}

{#- Values that pass one var's check can still be absurd together or past what dates and numbers
    can hold downstream: each is checked here, naming the vars. -#}
{% macro validate_var_combinations() %}
    {%- set earliest = validated_date_var('ltv_earliest_valid_timestamp') -%}
    {%- set latest = validated_date_var('ltv_latest_valid_timestamp', allow_empty=true) -%}
    {%- if earliest < '1900-01-01' -%}
        {{ exceptions.raise_compiler_error("var 'ltv_earliest_valid_timestamp' must be 1900-01-01 or later, got '" ~ earliest ~ "'") }}
    {%- endif -%}
    {%- if latest and latest <= earliest -%}
        {{ exceptions.raise_compiler_error("var 'ltv_latest_valid_timestamp' (" ~ latest ~ ") must be after var 'ltv_earliest_valid_timestamp' (" ~ earliest ~ "): every timestamp would be out of range") }}
    {%- endif -%}
    {%- if latest and latest > '2200-01-01' -%}
        {{ exceptions.raise_compiler_error("var 'ltv_latest_valid_timestamp' must be 2200-01-01 or earlier, got '" ~ latest ~ "'") }}
    {%- endif -%}
    {%- set cutoff = validated_date_var('ltv_cutoff_date', allow_empty=true) -%}
    {%- if cutoff and (cutoff < earliest or cutoff > (latest or '2200-01-01')) -%}
        {{ exceptions.raise_compiler_error("var 'ltv_cutoff_date' (" ~ cutoff ~ ") must lie within the valid time window [ltv_earliest_valid_timestamp = " ~ earliest ~ ", ltv_latest_valid_timestamp = " ~ (latest or 'one day after the build') ~ ")") }}
    {%- endif -%}
    {%- if number_setting('ltv_quarantine_warn_share') > number_setting('ltv_quarantine_error_share') -%}
        {{ exceptions.raise_compiler_error("var 'ltv_quarantine_warn_share' (" ~ var('ltv_quarantine_warn_share') ~ ") must not exceed var 'ltv_quarantine_error_share' (" ~ var('ltv_quarantine_error_share') ~ ")") }}
    {%- endif -%}
{% endmacro %}

{#- The numeric vars and their allowed ranges, in one place: validate_vars() checks them all before
    anything runs, and models read them through number_setting(), which checks again (so that
    `dbt compile` or `dbt show` never render an unchecked value). The maxima keep every value
    inside what dates, seeds and lengths downstream can hold. -#}
{% macro number_var_ranges() -%}
    {{ return({
        'ltv_horizon_days': {'minimum': 0, 'maximum': 3660, 'integer': true, 'exclusive_minimum': true},
        'ltv_holdout_share': {'minimum': 0, 'maximum': 0.9, 'exclusive_minimum': true},
        'ltv_random_seed': {'minimum': 0, 'maximum': 4294967295, 'integer': true},
        'ltv_min_labelled_users': {'minimum': 2, 'maximum': 1000000000, 'integer': true},
        'ltv_similarity_top_k': {'minimum': 1, 'maximum': 1000, 'integer': true},
        'ltv_recommendations_top_n': {'minimum': 1, 'maximum': 1000, 'integer': true},
        'ltv_bm25_k1': {'minimum': 0, 'maximum': 100},
        'ltv_bm25_b': {'minimum': 0, 'maximum': 1},
        'ltv_view_weight': {'minimum': 0, 'maximum': 100},
        'ltv_add_to_cart_weight': {'minimum': 0, 'maximum': 100},
        'ltv_quarantine_warn_share': {'minimum': 0, 'maximum': 1},
        'ltv_quarantine_error_share': {'minimum': 0, 'maximum': 1},
        'ltv_max_text_characters': {'minimum': 1, 'maximum': 1000000, 'integer': true},
        'ltv_spark_fit_sample_users': {'minimum': 2, 'maximum': 1000000000, 'integer': true},
        'ltv_segment_high_value_decile': {'minimum': 1, 'maximum': 10, 'integer': true},
        'ltv_segment_at_risk_probability_alive': {'minimum': 0, 'maximum': 1},
        'ltv_segment_lapsed_days': {'minimum': 1, 'maximum': 36600, 'integer': true},
        'ltv_segment_new_user_days': {'minimum': 1, 'maximum': 36600, 'integer': true},
        'ltv_segment_poor_experience_score': {'minimum': -1, 'maximum': 1},
        'ltv_segment_negative_share': {'minimum': 0, 'maximum': 1},
    }) }}
{%- endmacro %}

{% macro number_setting(var_name) -%}
    {%- set allowed = number_var_ranges()[var_name] -%}
    {{ return(validated_number_var(var_name, minimum=allowed.get('minimum'), maximum=allowed.get('maximum'),
                                   integer=allowed.get('integer', false), exclusive_minimum=allowed.get('exclusive_minimum', false))) }}
{%- endmacro %}

{#- A var given on the command line that the project does not declare would be ignored silently
    (`ltv_horizon: 90` instead of ltv_horizon_days): every ltv_* var passed must be one declared under
    `vars:` in dbt_project.yml, read from that file at run time so that a newly declared var is known
    at once. The message names the closest declared var (DuckDB's levenshtein). dbt runs with the
    project root as its working folder, where dbt_project.yml is. -#}
{% macro refuse_unknown_vars() %}
    {%- set given = (invocation_args_dict.get('vars') or {}) -%}
    {%- if given is string -%}{%- set given = fromyaml(given) or {} -%}{%- endif -%}
    {%- set passed = [] -%}
    {%- for var_name in given.keys() | select('string') if var_name.startswith('ltv_') -%}
        {%- do passed.append(var_name) -%}
    {%- endfor -%}
    {%- if not execute or not passed -%}{{ return('') }}{%- endif -%}
    {#- The project's own file, wherever dbt was started (--project-dir): DuckDB reads relative to the
        process's folder, not the project's. -#}
    {%- set project_file = (invocation_args_dict.get('project_dir') or '.') ~ '/dbt_project.yml' -%}
    {%- set project = fromyaml(run_query("select content from read_text('" ~ project_file | replace("'", "''") ~ "')").rows[0][0]) -%}
    {%- set declared = (project.get('vars') or {}).keys() | list -%}
    {%- for var_name in passed | sort if var_name not in declared -%}
        {%- set closest = run_query("select name from unnest(['" ~ declared | join("', '") ~ "']) as declared(name) order by levenshtein(name, '"
                                    ~ var_name | replace("'", "''") ~ "'), name limit 1").rows[0][0] -%}
        {{ exceptions.raise_compiler_error("unknown var '" ~ var_name ~ "': dbt_project.yml declares no such var (did you mean '" ~ closest ~ "'?)") }}
    {%- endfor -%}
{% endmacro %}

{% macro validate_vars() %}
    {%- do refuse_unknown_vars() -%}
    {%- do validated_date_var('ltv_cutoff_date', allow_empty=true) -%}
    {%- for var_name in number_var_ranges() -%}
        {%- do number_setting(var_name) -%}
    {%- endfor -%}
    {%- do validated_date_var('ltv_earliest_valid_timestamp') -%}
    {%- do validated_date_var('ltv_latest_valid_timestamp', allow_empty=true) -%}
    {%- do validated_time_zone_var('ltv_source_time_zone') -%}
    {%- do validated_region_var('ltv_phone_default_region') -%}
    {%- do validated_boolean_var('ltv_reuse_unchanged_work') -%}
    {%- do validated_choice_var('ltv_champion_metric', ['rmse', 'normalized_gini', 'top20_capture']) -%}
    {%- do validate_var_combinations() -%}
    {#- A hook must render to SQL; this one only validates. -#}
    select 1
{% endmacro %}
