"""Write the served DuckDB file: only what BI may read, out of the full build.

A DuckDB file has no per-table permissions, so the file BI opens must not hold anything a BI user may
not see: no base_/stg_ models (raw review and support texts, unmasked), no intermediate or ml_
relations, no registry. The served file holds the public models, each as a table in the main schema
(a view would need the relations it reads), with their table and column comments, plus
quarantine_rows, whose raw_row JSON has its free text masked like staging masks it. They are read
from the build's main schema, which holds exactly those (the internals are built in staging,
intermediate and ml: dbt_project.yml).

The served file is written in DuckDB 1.0's storage format (SERVED_STORAGE_VERSION), not 2.0's: the
DuckDB that BI drivers and desktop SQL tools bundle is mostly 1.x, and a 1.x reader refuses a 2.0 file
(`Trying to read a database file with version number ...`). DuckDB 1.0.0 and every later release read
it; the build file itself stays in the current format.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ltv.text_privacy import clean_and_mask_personal_data

QUARANTINE_TABLE = "quarantine_rows"
# The free-text fields of a quarantined raw row, per raw table: the ones staging masks.
FREE_TEXT_FIELDS = {"reviews": ("comment",), "support_conversations": ("message",)}
# DuckDB 1.0.0's format: the first release with a stable format, older than the DuckDB of any current
# BI driver. tests/python/test_served_file_readers.py opens the served file with DuckDB 1.0.0.
SERVED_STORAGE_VERSION = "v1.0.0"


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def sql_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def write_served_file(build_path: Path, served_path: Path, relation_names: list[str]) -> None:
    """Create `served_path` from the public `relation_names` and quarantine_rows of `build_path`."""
    import duckdb

    served_path.unlink(missing_ok=True)
    connection = duckdb.connect(str(served_path), config={"storage_compatibility_version": SERVED_STORAGE_VERSION})
    try:
        # One connection, the build attached read-only: nothing here can change the build.
        connection.execute(f"attach {sql_string(str(build_path))} as build (read_only)")
        for name in sorted(set(relation_names) | {QUARANTINE_TABLE}):
            connection.execute(f"create table main.{sql_name(name)} as select * from build.main.{sql_name(name)}")
            copy_comments(connection, name)
        mask_quarantined_text(connection)
        connection.execute("detach build")
        connection.execute("checkpoint")
    finally:
        connection.close()


def copy_comments(connection, name: str) -> None:
    """Copy the table (or view) comment and the column comments of build.main.<name> onto main.<name>."""
    table_comment = connection.execute(
        "select comment from duckdb_tables() where database_name = 'build' and schema_name = 'main' "
        "and table_name = $name union all "
        "select comment from duckdb_views() where database_name = 'build' and schema_name = 'main' "
        "and view_name = $name", {"name": name}).fetchall()
    if table_comment and table_comment[0][0]:
        connection.execute(f"comment on table main.{sql_name(name)} is {sql_string(table_comment[0][0])}")
    column_comments = connection.execute(
        "select column_name, comment from duckdb_columns() where database_name = 'build' "
        "and schema_name = 'main' and table_name = $name and comment is not null and comment <> ''",
        {"name": name}).fetchall()
    for column, comment in column_comments:
        connection.execute(
            f"comment on column main.{sql_name(name)}.{sql_name(column)} is {sql_string(comment)}")


def mask_quarantined_text(connection) -> None:
    """Mask personal data in the free-text fields of quarantined reviews and support messages."""
    tables = ", ".join(sql_string(table) for table in FREE_TEXT_FIELDS)
    rows = connection.execute(
        f"select rowid as row_id, source_table, raw_row::varchar as raw_row from main.{QUARANTINE_TABLE} "
        f"where source_table in ({tables}) and raw_row is not null").df()
    if rows.empty:
        return
    rows["raw_row"] = masked_raw_rows(rows["source_table"], rows["raw_row"])
    connection.register("masked_rows", rows)
    try:
        connection.execute(
            f"update main.{QUARANTINE_TABLE} set raw_row = masked_rows.raw_row from masked_rows "
            f"where main.{QUARANTINE_TABLE}.rowid = masked_rows.row_id")
    finally:
        connection.unregister("masked_rows")


def masked_raw_rows(source_tables: pd.Series, raw_rows: pd.Series) -> pd.Series:
    """Each raw_row JSON text with the string values of its table's free-text fields masked."""
    parsed = [json.loads(raw_row) for raw_row in raw_rows]
    for table, fields in FREE_TEXT_FIELDS.items():
        for field in fields:
            # Every string to mask, masked in one vectorised pass per field.
            positions = [position for position, (row, row_table) in enumerate(zip(parsed, source_tables, strict=True))
                         if row_table == table and isinstance(row, dict) and isinstance(row.get(field), str)]
            if not positions:
                continue
            texts = pd.Series([parsed[position][field] for position in positions], dtype="object")
            masked = clean_and_mask_personal_data(texts)
            for position, text in zip(positions, masked, strict=True):
                parsed[position][field] = text
    return pd.Series([json.dumps(row, ensure_ascii=False, separators=(",", ":")) for row in parsed],
                     index=raw_rows.index)
