-- One row per contract table: whether the shop has it and where this build reads it from. Its
-- pre-hook registers the raw files (macros/raw_data.sql); every base model depends on it, so a
-- file that cannot be read stops the build with that one message and nothing runs after it.
{{ config(materialized='table', pre_hook="{{ register_raw_files() }}") }}

{{ raw_tables_listing() }}
