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

{#- The schema of the views over LTV_RAW_DIR's files. Not the raw schema: there the demo seeds are
    tables and a shop's own tables live (warehouse mode), and a view of ours under the same name
    would block them, or they it ("Existing object users is of type Table", "Cannot seed to
    raw.users, it is a view"), when a warehouse switches source without --fresh. -#}
{% macro raw_files_schema() -%}raw_files{%- endmacro %}

{#- Where a `shop` source table's rows are in this build: in files mode the view in
    raw_files_schema(), otherwise the source as declared (the raw schema). -#}
{% macro raw_source_relation(source_node) -%}
    {{ return(api.Relation.create(database=source_node.database, identifier=source_node.identifier,
                                  schema=raw_files_schema() if raw_data_mode() == 'files' else source_node.schema)) }}
{%- endmacro %}

{#- The schema holding the empty stand-ins of absent optional raw tables (never the raw schema:
    in warehouse mode that schema is the shop's own, where a view of ours would block its table). -#}
{% macro absent_raw_schema() -%}raw_absent{%- endmacro %}

{#- The relation a base model reads. In demo mode it is the seed (a ref, so dbt orders seeds
    before models); otherwise the `shop` source, which base_shop__raw_tables points at the files,
    or, for an optional table the shop does not have, its empty stand-in. -#}
{% macro raw_table(table_name) -%}
    {#- The ref makes every reader of raw data wait for the files to be registered. -#}
    {%- do ref('base_shop__raw_tables') -%}
    {%- if raw_data_mode() == 'demo' -%}{{ return(ref(table_name)) }}{%- endif -%}
    {%- set shop_relation = source('shop', table_name) -%}
    {%- if raw_data_mode() == 'files' -%}
        {%- set shop_relation = shop_relation.incorporate(path={'schema': raw_files_schema()}) -%}
    {%- endif -%}
    {%- if execute and raw_contract()[table_name]['optional'] and not raw_relation_exists(shop_relation) -%}
        {{ return(api.Relation.create(database=shop_relation.database, schema=absent_raw_schema(), identifier=table_name)) }}
    {%- endif -%}
    {{ return(shop_relation) }}
{%- endmacro %}

{#- Asked of the database, not dbt's relation cache: base_shop__raw_tables creates these views
    during the run, after the cache was filled. -#}
{% macro raw_relation_exists(relation) -%}
    {{ return(adapter.dispatch('raw_relation_exists')(relation)) }}
{%- endmacro %}

{% macro default__raw_relation_exists(relation) -%}
    {%- set found = run_query("select count(*) from information_schema.tables where table_catalog = '" ~ relation.database
                              ~ "' and table_schema = '" ~ relation.schema ~ "' and table_name = '" ~ relation.identifier ~ "'") -%}
    {{ return(found.rows[0][0] > 0) }}
{%- endmacro %}

{#- A path with DuckDB's glob characters escaped, so that it names exactly one file: DuckDB globs
    every path it reads, and a folder called shop[ab] would otherwise read shopa's files. -#}
{% macro literal_path(path) -%}
    {{ return(path | replace('[', '[[]') | replace('*', '[*]') | replace('?', '[?]')) }}
{%- endmacro %}

{#- Files mode: the one file that holds a raw table, or none. Two files for one table stop the
    build with a message naming both: reading either silently would be a guess. -#}
{% macro raw_file_of(table_name) %}
    {%- set raw_dir = env_var('LTV_RAW_DIR').rstrip('/') -%}
    {%- if "'" in raw_dir -%}
        {{ exceptions.raise_compiler_error("LTV_RAW_DIR must not contain a single quote: " ~ raw_dir) }}
    {%- endif -%}
    {%- set candidates = [raw_dir ~ '/' ~ table_name ~ '.parquet', raw_dir ~ '/' ~ table_name ~ '.csv'] -%}
    {%- set files = raw_files_found(raw_dir, candidates) -%}
    {%- if files | length > 1 -%}
        {{ exceptions.raise_compiler_error("LTV_RAW_DIR=" ~ raw_dir ~ " has two files for raw table '" ~ table_name ~ "': "
                                           ~ files | join(' and ') ~ ". Keep one of them.") }}
    {%- endif -%}
    {%- if files | length == 0 and not raw_contract()[table_name]['optional'] -%}
        {{ exceptions.raise_compiler_error("LTV_RAW_DIR=" ~ raw_dir ~ " has no file for raw table '" ~ table_name ~ "': expected "
                                           ~ candidates | join(' or ')) }}
    {%- endif -%}
    {{ return(files[0] if files else none) }}
{% endmacro %}

{#- Which of `candidates` (full paths in raw_dir) exist, the .parquet one first. -#}
{% macro raw_files_found(raw_dir, candidates) -%}
    {{ return(adapter.dispatch('raw_files_found')(raw_dir, candidates)) }}
{%- endmacro %}

{#- A folder <table>.parquet/ of part files (as Spark, pandas with partition_cols or a data lake write a
    table) is found as that folder, written with a trailing '/'. -#}
{% macro default__raw_files_found(raw_dir, candidates) -%}
    {%- set found = run_query("select file from glob('" ~ literal_path(candidates[0]) ~ "') union all select file from glob('"
                              ~ literal_path(candidates[1]) ~ "') union all select distinct '" ~ candidates[0] ~ "/' from glob('"
                              ~ literal_path(candidates[0]) ~ "/**/*.parquet') order by 1 desc") -%}
    {{ return(found.rows | map(attribute=0) | list) }}
{%- endmacro %}

{#- base_shop__raw_tables' pre-hook. Files mode: one view per raw table in raw_files_schema() over its
    file. CSV is read as text (every column VARCHAR) so that a malformed value becomes a quarantine row
    with a reason instead of a type-sniffing error for the whole file, and with the dialect given
    (double quotes; the delimiter and encoding csv_format finds) and nothing sniffed, because DuckDB's
    sniffing fails a whole file over one short line (a line of spaces, a ^Z end-of-file mark, a row
    cut short) or a sample of long multi-line comments. A short row is kept, its missing values null
    (null_padding, as Spark's PERMISSIVE mode does), so that the checks quarantine it with a reason;
    DuckDB pads only when one thread reads the file (parallel = false). Parquet views add each row's file_row_number, which lets base tables check
    only rows appended since the last build. Every mode: an empty stand-in in raw_absent for each
    optional table the shop does not have. A file DuckDB cannot read fails here, in one model that
    every base model depends on, so its message is the build's only error. -#}
{% macro register_raw_files() %}
    {{ return(adapter.dispatch('register_raw_files')()) }}
{% endmacro %}

{#- How to read a CSV file: {'delimiter': as SQL spells it, 'encoding': 'utf-8' or 'latin-1', 'names':
    its columns' names (csv_column_names)}.
    The delimiter is the most frequent of , ; tab | in the header line (',' when none is), so that an
    export from a locale whose spreadsheets write ';' reads as it is (a header holds only column
    names, which these never are part of). The encoding is UTF-8 unless some line of the file is not
    valid UTF-8: then Latin-1 (ISO-8859-1), what older European exports are written in (the public
    gift retailer's CSV is), and which any byte decodes as; the build log says so. One extra scan of
    each CSV file per build, lines only. -#}
{% macro csv_format(file_path) %}
    {%- set encoding = 'utf-8' if adapter.dispatch('csv_is_utf8')(file_path) else 'latin-1' -%}
    {%- set header = adapter.dispatch('csv_header_line')(file_path, encoding) or '' -%}
    {#- A byte-order mark FF FE or FE FF (as Latin-1, or as the two replacement characters a UTF-8
        reading puts there): UTF-16, which spreadsheets write as "Unicode text". -#}
    {%- if encoding != 'utf-8' and header[:2] in ['ÿþ', 'þÿ', '��'] -%}
        {%- set encoding = adapter.dispatch('csv_utf16_encoding')(file_path) -%}
        {{ log("ltv: raw file " ~ file_path ~ " is UTF-16 (it starts with a byte-order mark)", info=true) }}
        {%- set header = adapter.dispatch('csv_header_line')(file_path, encoding) or '' -%}
    {%- elif encoding != 'utf-8' -%}
        {{ log("ltv: raw file " ~ file_path ~ " is not UTF-8: read as Latin-1 (ISO-8859-1)", info=true) }}
    {%- endif -%}
    {%- if header | trim == '' -%}
        {{ exceptions.raise_compiler_error("raw file " ~ file_path ~ " has no header row (an empty file, or an empty first line): "
                                           ~ "a CSV's first line must name its columns") }}
    {%- endif -%}
    {%- set best = namespace(character=',', spelling=',', count=header.count(',')) -%}
    {%- for character, spelling in [(';', ';'), ('\t', '\\t'), ('|', '|')] -%}
        {%- if header.count(character) > best.count -%}
            {%- set best.character = character -%}
            {%- set best.spelling = spelling -%}
            {%- set best.count = header.count(character) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return({'delimiter': best.spelling, 'encoding': encoding,
               'names': csv_column_names(file_path, header, best.character)}) }}
{% endmacro %}

{#- A CSV header's column names as both engines then name the columns: lower case, every run of
    characters other than a-z and 0-9 one '_', none at either end, so that a spreadsheet's "User ID" or
    " Unit Price" is the contract's user_id or unit_price (and a byte-order mark is no part of a name).
    A name left empty is column<position>; two headers that come out the same stop the build naming
    both. -#}
{% macro csv_column_names(file_path, header, delimiter) %}
    {%- set names, written = [], {} -%}
    {%- for cell in header.split(delimiter) -%}
        {%- set name = modules.re.sub('[^a-z0-9]+', '_', cell.strip().strip('"').lower()).strip('_') or 'column' ~ loop.index -%}
        {%- if name in written -%}
            {{ exceptions.raise_compiler_error("raw file " ~ file_path ~ " has two columns named " ~ name ~ " once written as "
                                               ~ "names are read (lower case, '_' between words): '" ~ written[name] ~ "' and '"
                                               ~ cell.strip() ~ "'") }}
        {%- endif -%}
        {%- do written.update({name: cell.strip()}) -%}
        {%- do names.append(name) -%}
    {%- endfor -%}
    {{ return(names) }}
{% endmacro %}

{#- The file's lines as one text column each (no delimiter, no quoting). Not strict: a spreadsheet
    writes rows ending in CR LF and a line break inside a cell as LF alone, which the strict reader
    stops at (its state machine expects one kind of line end) although only the first line and the
    bytes matter here. -#}
{% macro duckdb_csv_lines(file_path, options='') -%}
    read_csv('{{ literal_path(file_path) }}', header = false, columns = {'line': 'VARCHAR'}, delim = chr(31), quote = '',
             escape = '', auto_detect = false, strict_mode = false, max_line_size = 100000000{{ options }})
{%- endmacro %}

{% macro default__csv_is_utf8(file_path) %}
    {#- DuckDB's reader stops at the first byte that is not UTF-8; told to skip such lines and keep
        what it skipped, it says whether there was one. -#}
    {%- do run_query("select count(*) from " ~ duckdb_csv_lines(file_path, ", ignore_errors = true, store_rejects = true, "
                     ~ "rejects_table = 'ltv_csv_rejects', rejects_scan = 'ltv_csv_scans'")) -%}
    {%- set invalid = run_query("select count(*) from ltv_csv_rejects where error_type = 'INVALID ENCODING'").rows[0][0] -%}
    {%- do run_query("drop table if exists ltv_csv_rejects; drop table if exists ltv_csv_scans") -%}
    {{ return(invalid == 0) }}
{% endmacro %}

{% macro default__csv_utf16_encoding(file_path) %}
    {{ return('utf-16') }}
{% endmacro %}

{% macro default__csv_header_line(file_path, encoding) %}
    {%- set first = run_query("select line from " ~ duckdb_csv_lines(file_path, ", encoding = '" ~ encoding ~ "'") ~ " limit 1").rows -%}
    {{ return(first[0][0] if first | length else '') }}
{% endmacro %}

{% macro default__register_raw_files() %}
    {%- if not execute or raw_data_mode() == 'demo' -%}{{ return('select 1') }}{%- endif -%}
    {%- set statements = ["create schema if not exists " ~ raw_files_schema(), "create schema if not exists " ~ absent_raw_schema()] -%}
    {%- set stand_ins = [] -%}
    {%- for table_name, table in raw_contract().items() -%}
        {%- set file_path = raw_file_of(table_name) if raw_data_mode() == 'files' else none -%}
        {%- if file_path is not none and file_path.endswith('.parquet/') -%}
            {#- A folder of part files: row numbers restart in each file, so they cannot say which rows were
                appended since the last build, and every row is checked each build (no file_row_number). -#}
            {%- set reader = "read_parquet('" ~ literal_path(file_path) ~ "**/*.parquet', union_by_name = true)" -%}
        {%- elif file_path is not none and file_path.endswith('.parquet') -%}
            {%- set reader = "read_parquet('" ~ literal_path(file_path) ~ "', file_row_number = true)" -%}
        {%- elif file_path is not none -%}
            {%- set csv = csv_format(file_path) -%}
            {%- set reader = "read_csv('" ~ literal_path(file_path) ~ "', header = true, auto_detect = false, columns = {'"
                             ~ csv.names | join("': 'VARCHAR', '") ~ "': 'VARCHAR'}, delim = '" ~ csv.delimiter
                             ~ "', encoding = '" ~ csv.encoding ~ "', quote = '\"', escape = '\"', null_padding = true, "
                             ~ "parallel = false, max_line_size = 100000000)" -%}
        {%- endif -%}
        {%- if file_path is not none -%}
            {%- do statements.append("create or replace view " ~ raw_files_schema() ~ "." ~ table_name ~ " as select * from " ~ reader) -%}
        {%- elif raw_data_mode() == 'files' -%}
            {#- A view left by an earlier build must not keep reading a file that is gone. -#}
            {%- do statements.append("drop view if exists " ~ raw_files_schema() ~ "." ~ table_name) -%}
        {%- endif -%}
        {%- if table.optional -%}
            {#- After every file's view: a derived stand-in reads another table's. -#}
            {%- do stand_ins.append("create or replace view " ~ absent_raw_schema() ~ "." ~ table_name ~ " as "
                                    ~ absent_raw_table_sql(table_name, derived_sources_of(table))) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return((statements + stand_ins) | join(";\n")) }}
{% endmacro %}

{#- The [relation, column] pairs a derived_from table's stand-in reads: each source table's raw relation
    where the shop has it (a file's view, a warehouse table); an absent one names nothing. None for a
    table derived from nothing. -#}
{% macro derived_sources_of(table) -%}
    {%- if table.derived_from is not defined -%}{{ return(none) }}{%- endif -%}
    {%- set sources = [] -%}
    {%- for table_name, column_name in table.derived_from -%}
        {%- set relation = source('shop', table_name) -%}
        {%- if raw_data_mode() == 'files' -%}
            {%- set present = raw_file_of(table_name) is not none -%}
            {%- set relation = relation.incorporate(path={'schema': raw_files_schema()}) -%}
        {%- else -%}
            {%- set present = raw_relation_exists(relation) -%}
        {%- endif -%}
        {%- if present -%}{%- do sources.append([relation, column_name]) -%}{%- endif -%}
    {%- endfor -%}
    {{ return(sources) }}
{%- endmacro %}

{#- base_shop__raw_tables' rows: for each contract table, whether the shop has it and where it is read from. -#}
{% macro raw_tables_listing() %}
    {%- set rows = [] -%}
    {%- set absent = [] -%}
    {%- for table_name, table in raw_contract().items() -%}
        {%- set mode = raw_data_mode() -%}
        {%- if not execute -%}
            {%- set location = none -%}
        {%- elif mode == 'demo' -%}
            {%- set location = 'seed ' ~ table_name -%}
        {%- elif mode == 'files' -%}
            {%- set location = raw_file_of(table_name) -%}
        {%- else -%}
            {%- set relation = source('shop', table_name) -%}
            {%- set location = (relation.schema ~ '.' ~ relation.identifier) if raw_relation_exists(relation) else none -%}
            {%- if location is not none and demo_seed_left_in_raw(relation) -%}
                {{ exceptions.raise_compiler_error("raw table '" ~ table_name ~ "' (" ~ relation ~ ") is the bundled demo's, left by an earlier demo build, not the shop's own: with LTV_RAW_SOURCE=warehouse load the shop's " ~ table_name ~ " into the raw schema in its place" ~ (" or drop it if the shop has none (it is optional)" if table.optional else "") ~ ", or build a fresh warehouse (ltv publish --fresh)") }}
            {%- endif -%}
            {%- if location is none and not table.optional -%}
                {{ exceptions.raise_compiler_error("raw table '" ~ table_name ~ "' was not found (" ~ relation ~ "); LTV_RAW_SOURCE=warehouse needs it in the raw schema") }}
            {%- endif -%}
        {%- endif -%}
        {%- if execute and location is none -%}{%- do absent.append(table_name) -%}{%- endif -%}
        {%- do rows.append("select '" ~ table_name ~ "' as raw_table, " ~ table.optional ~ " as is_optional, "
                           ~ (location is not none) ~ " as is_present, '" ~ mode ~ "' as source_kind, "
                           ~ ("'" ~ location | replace("'", "''") ~ "'" if location is not none else "null") ~ " as location") -%}
    {%- endfor -%}
    {%- set contract = raw_contract() -%}
    {%- for table_name in absent if contract[table_name].derived_from is defined -%}
        {%- set named_by = [] -%}
        {%- for source_table, column_name in contract[table_name].derived_from if source_table not in absent -%}
            {%- do named_by.append(source_table ~ '.' ~ column_name) -%}
        {%- endfor -%}
        {{ log("ltv: the shop has no " ~ table_name ~ " table: its " ~ table_name ~ " are the ids " ~ named_by | join(', ')
               ~ " name, with no other attribute", info=true) }}
    {%- endfor -%}
    {%- set empty = [] -%}
    {%- for table_name in absent if contract[table_name].derived_from is not defined -%}{%- do empty.append(table_name) -%}{%- endfor -%}
    {%- if empty -%}
        {{ log("ltv: the shop has no " ~ empty | join(', ') ~ " (optional): read as empty; what depends on them is empty.", info=true) }}
    {%- endif -%}
    {{ return(rows | join("\nunion all\n")) }}
{% endmacro %}

{#- A raw table without a contract column stops the build with a message naming both. Optional
    columns may be absent (they are read as null). -#}
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

{#- on-run-start, demo mode: a warehouse built from LTV_RAW_DIR by an ltv from before raw_files_schema()
    has its file views in the raw schema, where `dbt seed` refuses to replace a view. Only views that
    read a file are dropped (ltv made those; a shop's own views are left alone), through the adapter
    so that dbt's relation cache, filled before this hook, forgets them too. -#}
{% macro drop_file_views_in_the_seed_schema() -%}
    {{ return(adapter.dispatch('drop_file_views_in_the_seed_schema')()) }}
{%- endmacro %}

{% macro default__drop_file_views_in_the_seed_schema() %}
    {%- if not execute or raw_data_mode() != 'demo' -%}{{ return('select 1') }}{%- endif -%}
    {%- set found = run_query("select view_name from duckdb_views() where database_name = current_database() and schema_name = 'raw' "
                              ~ "and (sql ilike '%read_parquet(%' or sql ilike '%read_csv(%')") -%}
    {%- for view_name in found.rows | map(attribute=0) if view_name in raw_contract() -%}
        {%- set relation = adapter.get_relation(database=target.database, schema='raw', identifier=view_name) -%}
        {%- if relation is not none -%}
            {{ log("ltv: dropping raw." ~ view_name ~ ", a view over a file left by an earlier LTV_RAW_DIR build, so the demo seed can load", info=true) }}
            {%- do adapter.drop_relation(relation) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return('select 1') }}
{% endmacro %}

{#- Whether a raw relation is a demo seed (its comment, from seeds/_seeds.yml, starts with "Demo"):
    after a demo build the raw schema holds all seven demo tables, and a shop loading only its own
    users, items, orders and lines would otherwise be built with the demo's events and reviews. -#}
{% macro demo_seed_left_in_raw(relation) -%}
    {{ return(adapter.dispatch('demo_seed_left_in_raw')(relation)) }}
{%- endmacro %}

{% macro default__demo_seed_left_in_raw(relation) -%}
    {%- set found = run_query("select count(*) from duckdb_tables() where database_name = '" ~ relation.database
                              ~ "' and schema_name = '" ~ relation.schema ~ "' and table_name = '" ~ relation.identifier
                              ~ "' and comment like 'Demo %'") -%}
    {{ return(found.rows[0][0] > 0) }}
{%- endmacro %}
