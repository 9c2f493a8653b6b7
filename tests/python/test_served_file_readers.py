"""The served file opens where BI opens it: in a DuckDB 1.x reader (what BI drivers and desktop SQL
tools bundle) and through SQLAlchemy with duckdb-engine (Superset's path), and every public relation
reads there with the same rows as in DuckDB 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy

from ltv.served_file import SERVED_STORAGE_VERSION

OLDEST_READER = "1.0.0"

# Per relation: its columns, its row count and the sum of every numeric column, read by whichever
# DuckDB runs it. Run by the project's DuckDB 2 and by the 1.x reader's own Python.
SUMMARY = r"""
import json, sys, duckdb
connection = duckdb.connect(sys.argv[1], read_only=True)
relations = connection.execute(
    "select table_schema, table_name from information_schema.tables "
    "where table_catalog = current_database() order by 1, 2").fetchall()
summary = {"version": duckdb.__version__, "relations": {}}
for schema, name in relations:
    columns = connection.execute(
        "select column_name, data_type from information_schema.columns where table_schema = ? "
        "and table_name = ? order by ordinal_position", [schema, name]).fetchall()
    qualified = '"' + schema + '"."' + name + '"'
    numeric = [column for column, data_type in columns
               if data_type in ("INTEGER", "BIGINT", "DOUBLE", "FLOAT", "SMALLINT", "HUGEINT") ]
    sums = connection.execute("select count(*)" + "".join(f', sum("{column}")::double' for column in numeric)
                              + " from " + qualified).fetchall()[0]
    rows = connection.execute("select * from " + qualified).fetchall()  # every value decodes
    summary["relations"][schema + "." + name] = {
        "columns": [column for column, _ in columns], "rows": sums[0], "fetched": len(rows),
        "sums": {column: value for column, value in zip(numeric, sums[1:])}}
summary["dim_users_comment"] = connection.execute(
    "select comment from duckdb_tables() where table_name = 'dim_users'").fetchall()
print(json.dumps(summary))
"""


def reader_python() -> Path:
    """The Python of the venv that .ci/run makes for DuckDB 1.0.0, inside the venv running the tests."""
    path = Path(os.environ.get("LTV_DUCKDB1_PYTHON") or Path(sys.prefix) / "readers" / f"duckdb-{OLDEST_READER}"
                / "bin" / "python")
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"no DuckDB {OLDEST_READER} reader at {path}: .ci/run creates it")
        pytest.skip(f"no DuckDB {OLDEST_READER} reader at {path} (see .ci/run)")
    return path


def summary_by(python: str | Path, served: Path) -> dict:
    result = subprocess.run([str(python), "-c", SUMMARY, str(served)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def served_file(demo_published) -> Path:
    return demo_published


@pytest.fixture(scope="module")
def current_summary(served_file) -> dict:
    summary = summary_by(sys.executable, served_file)
    assert summary["version"].startswith("2.")
    return summary


def test_the_served_file_has_the_storage_header_of_duckdb_1(served_file):
    header = served_file.read_bytes()[:20]
    assert header[8:12] == b"DUCK"
    # 64 is the version number DuckDB 0.10 to 1.1 write and every 1.x release reads (2.0 writes more).
    assert int.from_bytes(header[12:20], "little") == 64
    assert SERVED_STORAGE_VERSION == f"v{OLDEST_READER}"


def test_a_duckdb_1_reader_reads_every_public_relation_as_duckdb_2_does(served_file, current_summary):
    old = summary_by(reader_python(), served_file)
    assert old["version"] == OLDEST_READER
    relations = current_summary["relations"]
    assert {name.split(".")[-1] for name in relations} >= {"dim_users", "fct_segment_summary", "quarantine_rows",
                                                            "fct_user_value_predictions", "fct_model_runs"}
    assert old["relations"].keys() == relations.keys()
    for name, expected in relations.items():
        seen = old["relations"][name]
        assert seen["columns"] == expected["columns"], name
        assert seen["rows"] == seen["fetched"] == expected["rows"], name
        assert seen["sums"] == pytest.approx(expected["sums"], nan_ok=True), name
    assert old["dim_users_comment"] == current_summary["dim_users_comment"] and old["dim_users_comment"][0][0]


def test_sqlalchemy_with_duckdb_engine_lists_and_queries_every_public_relation(served_file, current_summary):
    # The README's SQLAlchemy URI for Superset: an absolute path after duckdb:///, read-only by URL.
    engine = sqlalchemy.create_engine(f"duckdb:///{served_file.resolve()}?access_mode=read_only")
    try:
        with engine.connect() as connection:
            with pytest.raises(sqlalchemy.exc.DBAPIError, match="read-only"):
                connection.execute(sqlalchemy.text("create table written_by_bi (a integer)"))
            connection.rollback()
            inspector = sqlalchemy.inspect(connection)
            # duckdb-engine names schemas "<database>.<schema>", as the BI tool's schema picker shows them.
            listed = {f"{schema.split('.')[-1]}.{name}": schema for schema in inspector.get_schema_names()
                      for name in inspector.get_table_names(schema) + inspector.get_view_names(schema)}
            assert listed.keys() >= current_summary["relations"].keys()
            for name, expected in current_summary["relations"].items():
                schema, relation = name.split(".")
                count = connection.execute(sqlalchemy.text(f'select count(*) from "{schema}"."{relation}"')).scalar()
                assert count == expected["rows"], name
                columns = [column["name"] for column in inspector.get_columns(relation, listed[name])]
                assert columns == expected["columns"], name
    finally:
        engine.dispose()
