{#- Where the raw tables come from, chosen by configuration and never by editing SQL:
      demo       the bundled seeds (default), loaded by `dbt seed` into the raw schema;
      files      LTV_RAW_DIR: a folder with one <table>.parquet or <table>.csv per table;
      warehouse  LTV_RAW_SOURCE=warehouse: tables that already sit in the raw schema. -#}
{% macro raw_data_mode() -%}
    {%- if env_var('LTV_RAW_DIR', '') != '' -%}files
    {%- elif env_var('LTV_RAW_SOURCE', 'demo') in ('demo', 'warehouse') -%}{{ env_var('LTV_RAW_SOURCE', 'demo') }}
    {%- else -%}{{ exceptions.raise_compiler_error("LTV_RAW_SOURCE must be 'demo' or 'warehouse' (or set LTV_RAW_DIR for files), got '" ~ env_var('LTV_RAW_SOURCE') ~ "'") }}
    {%- endif -%}
{%- endmacro %}

{#- The relation a base model reads. In demo mode it is the seed (a ref, so dbt orders seeds
    before models); otherwise the `shop` source, which register_raw_files() points at the files. -#}
{% macro raw_table(table_name) -%}
    {%- if raw_data_mode() == 'demo' -%}{{ return(ref(table_name)) }}{%- else -%}{{ return(source('shop', table_name)) }}{%- endif -%}
{%- endmacro %}

{#- Files mode: one view per raw table in the raw schema over <LTV_RAW_DIR>/<table>.parquet or
    .csv. CSV is read as text (all_varchar) so that a malformed value becomes a quarantine row
    with a reason instead of a type-sniffing error for the whole file, and with the standard
    dialect given (comma, double quotes) because sniffing it from a sample of long multi-line
    comments can fail. Parquet views add each row's file_row_number, which lets base tables check
    only rows appended since the last build. -#}
{% macro register_raw_files() %}
    {%- if execute and raw_data_mode() == 'files' -%}
        {%- set raw_dir = env_var('LTV_RAW_DIR').rstrip('/') -%}
        {%- if "'" in raw_dir -%}
            {{ exceptions.raise_compiler_error("LTV_RAW_DIR must not contain a single quote: " ~ raw_dir) }}
        {%- endif -%}
        {%- set statements = ["create schema if not exists raw"] -%}
        {%- for table_name in ltv_raw_table_names() -%}
            {%- set found = run_query("select file from glob('" ~ raw_dir ~ "/" ~ table_name ~ ".parquet') union all select file from glob('" ~ raw_dir ~ "/" ~ table_name ~ ".csv')") -%}
            {%- if found.rows | length == 0 -%}
                {{ exceptions.raise_compiler_error("LTV_RAW_DIR=" ~ raw_dir ~ " has no file for raw table '" ~ table_name ~ "': expected " ~ raw_dir ~ "/" ~ table_name ~ ".parquet or " ~ raw_dir ~ "/" ~ table_name ~ ".csv") }}
            {%- endif -%}
            {%- set file_path = found.rows[0][0] -%}
            {%- if file_path.endswith('.parquet') -%}
                {#- file_row_number: each row's position in the file, by which a rebuild tells rows
                    appended since the last build from those it already checked. -#}
                {%- set reader = "read_parquet('" ~ file_path ~ "', file_row_number = true)" -%}
            {%- else -%}
                {%- set reader = "read_csv('" ~ file_path ~ "', header = true, all_varchar = true, delim = ',', quote = '\"', escape = '\"', max_line_size = 100000000)" -%}
            {%- endif -%}
            {%- do statements.append("create or replace view raw." ~ table_name ~ " as select * from " ~ reader) -%}
        {%- endfor -%}
        {{ return(statements | join(";\n")) }}
    {%- endif -%}
{% endmacro %}

{% macro ltv_raw_table_names() -%}
    {{ return(['users', 'items', 'orders', 'order_items', 'events', 'reviews', 'support_conversations']) }}
{%- endmacro %}

{#- A raw table without a contract column stops the build with a message naming both. -#}
{% macro assert_required_columns(relation, table_name, required_columns) %}
    {%- if execute -%}
        {#- file_row_number is the row position register_raw_files adds, not a column of the file. -#}
        {%- set present = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower')
                          | reject('equalto', 'file_row_number') | list -%}
        {%- if present | length == 0 -%}
            {{ exceptions.raise_compiler_error("raw table '" ~ table_name ~ "' was not found (" ~ relation ~ ")") }}
        {%- endif -%}
        {%- set missing = [] -%}
        {%- for column_name in required_columns if column_name not in present -%}
            {%- do missing.append(column_name) -%}
        {%- endfor -%}
        {%- if missing -%}
            {{ exceptions.raise_compiler_error("raw table '" ~ table_name ~ "' is missing required column(s): " ~ missing | join(', ') ~ " (found: " ~ present | join(', ') ~ ")") }}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}
