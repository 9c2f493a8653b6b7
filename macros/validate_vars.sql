{#-
  Every var that reaches SQL goes through one of these validators, which return a value that is
  safe to put into SQL or stop with a message naming the var. validate_vars() runs them all in
  on-run-start, so a bad value stops the build before any model runs; the models call them too,
  so `dbt compile` or `dbt show` never render an unchecked value.
-#}
{#- Each kind of var has a checker that returns {'value': ..., 'problem': ''} (the problem a message
    naming the var) and a validator that stops at the problem: validate_vars() collects every
    problem first, so one run names all the bad vars at once. -#}
{% macro var_check(value, problem='') -%}
    {{ return({'value': value, 'problem': problem}) }}
{%- endmacro %}

{#- A bad value stops the run naming every bad var, whichever model or hook met it first (models
    render their vars while dbt parses, before on-run-start). -#}
{% macro valid_or_stop(checked) -%}
    {%- if checked.problem -%}
        {%- set problems = all_var_problems() -%}
        {%- if checked.problem not in problems -%}{%- do problems.insert(0, checked.problem) -%}{%- endif -%}
        {{ exceptions.raise_compiler_error(var_problems_message(problems)) }}
    {%- endif -%}
    {{ return(checked.value) }}
{%- endmacro %}

{% macro var_problems_message(problems) -%}
    {{ return(problems[0] if problems | length == 1
              else problems | length ~ " problems with vars:\n  - " ~ problems | join("\n  - ")) }}
{%- endmacro %}

{% macro checked_date_var(var_name, allow_empty=false) -%}
    {%- set value = var(var_name) | string | trim -%}
    {%- if allow_empty and value in ('', 'none', 'None') -%}
        {{ return(var_check('')) }}
    {%- endif -%}
    {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', value) -%}
        {{ return(var_check(none, "var '" ~ var_name ~ "' must be a date written YYYY-MM-DD, got '" ~ value ~ "'")) }}
    {%- endif -%}
    {%- set year, month, day = value.split('-') | map('int') -%}
    {%- set days_in_month = [31, 29 if (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] -%}
    {%- if month < 1 or month > 12 or day < 1 or day > days_in_month[month - 1] -%}
        {{ return(var_check(none, "var '" ~ var_name ~ "' is not a real calendar date: '" ~ value ~ "'")) }}
    {%- endif -%}
    {{ return(var_check(value)) }}
{%- endmacro %}

{% macro validated_date_var(var_name, allow_empty=false) -%}
    {{ return(valid_or_stop(checked_date_var(var_name, allow_empty))) }}
{%- endmacro %}

{% macro checked_number_var(var_name, minimum=none, maximum=none, integer=false, exclusive_minimum=false) -%}
    {%- set text = var(var_name) | string | trim -%}
    {%- set pattern = '-?[0-9]+' if integer else '-?[0-9]+([.][0-9]+)?' -%}
    {%- if not modules.re.fullmatch(pattern, text) -%}
        {{ return(var_check(none, "var '" ~ var_name ~ "' must be " ~ ("a whole number" if integer else "a number") ~ ", got '" ~ text ~ "'")) }}
    {%- endif -%}
    {%- set value = text | int if integer else text | float -%}
    {%- set range_text = ("greater than " if exclusive_minimum else "at least ") ~ minimum if minimum is not none else "" -%}
    {%- set range_text = range_text ~ (" and " if range_text and maximum is not none else "") ~ ("at most " ~ maximum if maximum is not none else "") -%}
    {%- if (minimum is not none and (value < minimum or (exclusive_minimum and value == minimum)))
          or (maximum is not none and value > maximum) -%}
        {{ return(var_check(none, "var '" ~ var_name ~ "' must be " ~ range_text ~ ", got " ~ text)) }}
    {%- endif -%}
    {{ return(var_check(value)) }}
{%- endmacro %}

{% macro validated_number_var(var_name, minimum=none, maximum=none, integer=false, exclusive_minimum=false) -%}
    {{ return(valid_or_stop(checked_number_var(var_name, minimum, maximum, integer, exclusive_minimum))) }}
{%- endmacro %}

{% macro checked_boolean_var(var_name) -%}
    {%- set text = var(var_name) | string | trim | lower -%}
    {%- if text not in ('true', 'false') -%}
        {{ return(var_check(none, "var '" ~ var_name ~ "' must be true or false, got '" ~ text ~ "'")) }}
    {%- endif -%}
    {{ return(var_check(text == 'true')) }}
{%- endmacro %}

{% macro validated_boolean_var(var_name) -%}
    {{ return(valid_or_stop(checked_boolean_var(var_name))) }}
{%- endmacro %}

{#- One of a fixed list of words. -#}
{% macro checked_choice_var(var_name, choices) -%}
    {%- set value = var(var_name) | string | trim -%}
    {%- if value not in choices -%}
        {{ return(var_check(none, "var '" ~ var_name ~ "' must be one of " ~ choices | join(', ') ~ ", got '" ~ value ~ "'")) }}
    {%- endif -%}
    {{ return(var_check(value)) }}
{%- endmacro %}

{% macro validated_choice_var(var_name, choices) -%}
    {{ return(valid_or_stop(checked_choice_var(var_name, choices))) }}
{%- endmacro %}

{#- A two-letter region code (ISO 3166-1 alpha-2, upper case), as libphonenumber names regions. -#}
{% macro checked_region_var(var_name) -%}
    {%- set value = var(var_name) | string | trim -%}
    {%- if not modules.re.fullmatch('[A-Z]{2}', value) -%}
        {{ return(var_check(none, "var '" ~ var_name ~ "' must be a two-letter region code such as US, GB, DE or CN, got '" ~ value ~ "'")) }}
    {%- endif -%}
    {{ return(var_check(value)) }}
{%- endmacro %}

{% macro validated_region_var(var_name) -%}
    {{ return(valid_or_stop(checked_region_var(var_name))) }}
{%- endmacro %}

{#- An IANA time zone name (Europe/London, Asia/Shanghai, UTC), as DuckDB's ICU knows them. -#}
{% macro checked_time_zone_var(var_name) -%}
    {%- set value = var(var_name) | string | trim -%}
    {%- if value not in modules.pytz.all_timezones_set -%}
        {{ return(var_check(none, "var '" ~ var_name ~ "' must be a time zone name such as UTC, Europe/London or Asia/Shanghai, got '" ~ value ~ "'")) }}
    {%- endif -%}
    {{ return(var_check(value)) }}
{%- endmacro %}

{% macro validated_time_zone_var(var_name) -%}
    {{ return(valid_or_stop(checked_time_zone_var(var_name))) }}
{%- endmacro %}

{#- Values that pass one var's check can still be absurd together or past what dates and numbers
    can hold downstream: the problems of the combinations whose vars each passed, each naming the vars. -#}
{% macro var_combination_problems() %}
    {%- set problems = [] -%}
    {%- set earliest = checked_date_var('ltv_earliest_valid_timestamp').value -%}
    {%- set latest_checked = checked_date_var('ltv_latest_valid_timestamp', allow_empty=true) -%}
    {%- set latest = latest_checked.value -%}
    {%- set cutoff_checked = checked_date_var('ltv_cutoff_date', allow_empty=true) -%}
    {%- set cutoff = cutoff_checked.value -%}
    {%- if earliest -%}
        {%- if earliest < '1900-01-01' -%}
            {%- do problems.append("var 'ltv_earliest_valid_timestamp' must be 1900-01-01 or later, got '" ~ earliest ~ "'") -%}
        {%- endif -%}
        {%- if latest and latest <= earliest -%}
            {%- do problems.append("var 'ltv_latest_valid_timestamp' (" ~ latest ~ ") must be after var 'ltv_earliest_valid_timestamp' (" ~ earliest ~ "): every timestamp would be out of range") -%}
        {%- endif -%}
        {%- if cutoff and not latest_checked.problem and (cutoff < earliest or cutoff > (latest or '2200-01-01')) -%}
            {%- do problems.append("var 'ltv_cutoff_date' (" ~ cutoff ~ ") must lie within the valid time window [ltv_earliest_valid_timestamp = " ~ earliest ~ ", ltv_latest_valid_timestamp = " ~ (latest or 'one day after the build') ~ ")") -%}
        {%- endif -%}
    {%- endif -%}
    {%- if latest and latest > '2200-01-01' -%}
        {%- do problems.append("var 'ltv_latest_valid_timestamp' must be 2200-01-01 or earlier, got '" ~ latest ~ "'") -%}
    {%- endif -%}
    {%- set warn_share = checked_number_setting('ltv_quarantine_warn_share') -%}
    {%- set error_share = checked_number_setting('ltv_quarantine_error_share') -%}
    {%- if not warn_share.problem and not error_share.problem and warn_share.value > error_share.value -%}
        {%- do problems.append("var 'ltv_quarantine_warn_share' (" ~ var('ltv_quarantine_warn_share') ~ ") must not exceed var 'ltv_quarantine_error_share' (" ~ var('ltv_quarantine_error_share') ~ ")") -%}
    {%- endif -%}
    {{ return(problems) }}
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
        'ltv_spark_recommendation_sample_users': {'minimum': 2, 'maximum': 1000000000, 'integer': true},
        'ltv_segment_high_value_decile': {'minimum': 1, 'maximum': 10, 'integer': true},
        'ltv_segment_at_risk_probability_alive': {'minimum': 0, 'maximum': 1},
        'ltv_segment_lapsed_days': {'minimum': 1, 'maximum': 36600, 'integer': true},
        'ltv_segment_new_user_days': {'minimum': 1, 'maximum': 36600, 'integer': true},
        'ltv_segment_poor_experience_score': {'minimum': -1, 'maximum': 1},
        'ltv_segment_negative_share': {'minimum': 0, 'maximum': 1},
    }) }}
{%- endmacro %}

{% macro checked_number_setting(var_name) -%}
    {{ return(checked_number_var(var_name, **number_var_ranges()[var_name])) }}
{%- endmacro %}

{% macro number_setting(var_name) -%}
    {{ return(valid_or_stop(checked_number_setting(var_name))) }}
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

{#- Every var's problem, and those of the combinations whose vars each passed. -#}
{% macro all_var_problems() %}
    {%- set checks = [checked_date_var('ltv_cutoff_date', allow_empty=true)] -%}
    {%- for var_name in number_var_ranges() -%}
        {%- do checks.append(checked_number_setting(var_name)) -%}
    {%- endfor -%}
    {%- do checks.extend([
        checked_date_var('ltv_earliest_valid_timestamp'),
        checked_date_var('ltv_latest_valid_timestamp', allow_empty=true),
        checked_time_zone_var('ltv_source_time_zone'),
        checked_choice_var('ltv_source_date_order', source_date_order_choices()),
        checked_choice_var('ltv_source_decimal_mark', decimal_mark_choices()),
        checked_region_var('ltv_phone_default_region'),
        checked_boolean_var('ltv_reuse_unchanged_work'),
        checked_choice_var('ltv_champion_metric', ['rmse', 'normalized_gini', 'top20_capture']),
    ]) -%}
    {{ return(checks | map(attribute='problem') | select | list + var_combination_problems()) }}
{% endmacro %}

{#- on-run-start: every var checked before any model runs, every problem named in one message, so a
    user with several bad vars fixes them in one go rather than one run each. -#}
{% macro validate_vars() %}
    {%- do refuse_unknown_vars() -%}
    {%- set problems = all_var_problems() -%}
    {%- if problems -%}
        {{ exceptions.raise_compiler_error(var_problems_message(problems)) }}
    {%- endif -%}
    {#- A hook must render to SQL; this one only validates. -#}
    select 1
{% endmacro %}
