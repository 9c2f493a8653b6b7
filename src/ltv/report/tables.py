"""Read the public tables the report draws from, wherever they live in the warehouse file.

The relations are looked up by name in any schema (public marts may move out of `main`), and a
relation or column that is absent reads as None rather than failing: an older served file, or a shop
without some data, still gets a report that says what is missing.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

# Where public relations are looked for first; any other schema of the file after these.
PREFERRED_SCHEMAS = ("analytics", "main")

# Everything the report reads; each is optional.
REPORT_RELATIONS = (
    "fct_user_value_versions", "fct_user_value_holdout", "fct_model_runs", "fct_recommendation_versions",
    "fct_user_recommendations", "fct_text_sentiment", "fct_segment_summary", "quarantine_rows",
)
# The big tables are read narrow: only the columns a chart uses (those that exist), or one row per user.
NARROW_COLUMNS = {
    "fct_text_sentiment": ("text_source", "model_version", "written_at", "polarity"),
    "quarantine_rows": ("source_table", "reason"),
}
PER_USER = {"fct_user_recommendations": "select user_id, bool_and(is_fallback) as is_fallback from {relation} "
                                        "group by user_id"}


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def relation_schemas(connection) -> dict[str, str]:
    """Relation name -> the schema it is read from (preferred schemas first)."""
    rows = connection.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = current_database() "
        "union all select schema_name, view_name from duckdb_views() "
        "where database_name = current_database() and not internal").fetchall()
    rank = {schema: position for position, schema in enumerate(PREFERRED_SCHEMAS)}
    found: dict[str, str] = {}
    for schema, name in sorted(rows, key=lambda row: (rank.get(row[0], len(rank)), row[0])):
        found.setdefault(name, schema)
    return found


def read_relation(connection, schema: str, name: str) -> pd.DataFrame:
    columns = [row[0] for row in connection.execute(
        "select column_name from duckdb_columns() where database_name = current_database() "
        "and schema_name = ? and table_name = ? order by column_index", [schema, name]).fetchall()]
    relation = f"{quoted(schema)}.{quoted(name)}"
    if name in PER_USER and {"user_id", "is_fallback"} <= set(columns):
        return connection.execute(PER_USER[name].format(relation=relation)).df()
    kept = [column for column in columns if column in NARROW_COLUMNS.get(name, columns)]
    return connection.execute(f"select {', '.join(quoted(column) for column in kept)} from {relation}").df()


def read_report_tables(warehouse_path: Path) -> dict[str, pd.DataFrame | None]:
    """Each relation in REPORT_RELATIONS as a frame, or None where the file does not hold it."""
    import duckdb

    if not warehouse_path.exists():
        raise FileNotFoundError(f"no warehouse file at {warehouse_path}; run `ltv publish` first")
    connection = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        schemas = relation_schemas(connection)
        return {name: read_relation(connection, schemas[name], name) if name in schemas else None
                for name in REPORT_RELATIONS}
    finally:
        connection.close()
