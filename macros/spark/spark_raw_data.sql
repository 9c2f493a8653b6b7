{#- Raw data from files (LTV_RAW_DIR) and from the warehouse (LTV_RAW_SOURCE=warehouse) on Spark; the
    modes, the contract and the messages are macros/raw_data.sql's. -#}

{#- Spark has no glob(): the folder's Parquet and CSV entries are listed by the binaryFile source (its
    paths only: the file contents are never read), on any file system Spark reads (a local folder,
    hdfs://, s3a://). A folder with no such entry at all stops with Spark's PATH_NOT_FOUND, which names
    it. -#}
{% macro spark__raw_files_found(raw_dir, candidates) -%}
    {%- for character in ['`', '*', '?', '[', ']', '{', '}'] if character in raw_dir -%}
        {{ exceptions.raise_compiler_error("LTV_RAW_DIR must not contain " ~ character ~ " on Spark (Hadoop reads it as a pattern): " ~ raw_dir) }}
    {%- endfor -%}
    {%- set listing = run_query("select distinct path from binaryFile.`" ~ raw_dir ~ "/*.{parquet,csv}`") -%}
    {#- Spark lists full URIs (file:/shop/users.csv, hdfs://host:8020/shop/users.parquet/part-0.parquet):
        the entry is the segment after the folder's own name, written back under raw_dir as given. -#}
    {%- set folder_name = raw_dir.split('/')[-1] -%}
    {%- set entries = [] -%}
    {%- for path in listing.rows | map(attribute=0) -%}
        {%- set segments = path.rstrip('/').split('/') -%}
        {%- set entry = segments[-1] if segments[-2] == folder_name else segments[-2] -%}
        {%- do entries.append(raw_dir ~ '/' ~ entry) -%}
    {%- endfor -%}
    {{ return(candidates | select('in', entries) | list) }}
{%- endmacro %}

{#- base_shop__raw_tables' pre-hook on Spark: each raw file becomes an external table in
    raw_files_schema() (Spark reads a CSV's options only from a table's definition, and a view cannot
    hold them), CSV as text with the standard dialect as on DuckDB; the empty stand-ins are views. Run
    one statement at a time here (a hook is one statement on Spark). -#}
{% macro spark__register_raw_files() %}
    {%- if not execute or raw_data_mode() == 'demo' -%}{{ return('select 1') }}{%- endif -%}
    {%- do run_query("create schema if not exists " ~ raw_files_schema()) -%}
    {%- do run_query("create schema if not exists " ~ absent_raw_schema()) -%}
    {%- for table_name, table in raw_contract().items() -%}
        {%- set file_path = raw_file_of(table_name) if raw_data_mode() == 'files' else none -%}
        {%- if raw_data_mode() == 'files' -%}
            {%- do run_query("drop table if exists " ~ raw_files_schema() ~ "." ~ table_name) -%}
        {%- endif -%}
        {%- if file_path is not none and file_path.endswith('.parquet') -%}
            {%- do run_query("create table " ~ raw_files_schema() ~ "." ~ table_name ~ " using parquet options (path '"
                             ~ file_path ~ "')") -%}
        {%- elif file_path is not none -%}
            {%- set csv = csv_format(file_path) -%}
            {%- do run_query("create table " ~ raw_files_schema() ~ "." ~ table_name ~ " (`" ~ csv.names | join("` string, `")
                             ~ "` string) using csv options (path '"
                             ~ file_path ~ "', header 'true', inferSchema 'false', sep '" ~ csv.delimiter ~ "', encoding '"
                             ~ spark_encoding(csv.encoding) ~ "', quote '\"', escape '\"', "
                             ~ "multiLine 'true', mode 'PERMISSIVE')") -%}
        {%- endif -%}
    {%- endfor -%}
    {#- After every file's table: a derived stand-in reads another table's. -#}
    {%- for table_name, table in raw_contract().items() if table.optional -%}
        {%- do run_query("create or replace view " ~ absent_raw_schema() ~ "." ~ table_name ~ " as "
                         ~ absent_raw_table_sql(table_name, derived_sources_of(table))) -%}
    {%- endfor -%}
    {{ return('select 1') }}
{% endmacro %}

{#- Spark's text source, which finds the header line, reads UTF-8 only: a UTF-16 file is refused by
    name instead of read with its column names garbled. -#}
{% macro spark__csv_utf16_encoding(file_path) %}
    {{ exceptions.raise_compiler_error("raw file " ~ file_path ~ " is UTF-16 (it starts with a byte-order mark), which the "
                                       ~ "spark target does not read: save it as CSV in UTF-8") }}
{% endmacro %}

{% macro spark_encoding(encoding) -%}
    {{ return({'utf-8': 'UTF-8', 'latin-1': 'ISO-8859-1'}[encoding]) }}
{%- endmacro %}

{#- Spark's text source keeps each line's bytes as they are (its csv source would put U+FFFD where a
    byte is not UTF-8, and read on). -#}
{% macro spark__csv_is_utf8(file_path) %}
    {%- set invalid = run_query("select count(*) from text.`" ~ file_path ~ "` where not is_valid_utf8(value)").rows[0][0] -%}
    {{ return(invalid == 0) }}
{% endmacro %}

{#- The first line (the text source reads UTF-8; a Latin-1 file's column names are ASCII all the same). -#}
{% macro spark__csv_header_line(file_path, encoding) %}
    {%- set first = run_query("select value from text.`" ~ file_path ~ "` limit 1").rows -%}
    {{ return(first[0][0] if first | length else '') }}
{% endmacro %}

{#- The seeds' table comment ("Demo ..."), from Spark's catalogue. -#}
{% macro spark__demo_seed_left_in_raw(relation) -%}
    {%- set described = run_query("describe table extended " ~ relation.schema ~ "." ~ relation.identifier) -%}
    {%- for row in described.rows if row[0] == 'Comment' and (row[1] or '').startswith('Demo ') -%}
        {{ return(true) }}
    {%- endfor -%}
    {{ return(false) }}
{%- endmacro %}
