"""Parity: the whole demo built on the `spark` target (one `dbt build`, every model, data test and unit
test) equals the DuckDB build, public relation by public relation: the same columns, the same rows, and
numbers within TOLERANCE where the engines add in another order (documented in README "Running on
Spark"). Spark's relations are read through a SparkSession on the build's own catalogue, so its views
(the served and unsuffixed ones) are compared too, not only the tables it wrote.
"""

from __future__ import annotations

import datetime
import decimal
import json
import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from conftest import requires_spark, spark_session_on

requires_spark()

# Sums in another order (least squares, averages of decimals, RMSEs): ~1e-14 relative on the demo.
TOLERANCE = 1e-9
# What says when or by which run a row was made, not what it holds.
BUILD_STAMPS = {"run_id", "invocation_id", "trained_at", "checked_at", "loaded_at"}
# v4's registry message on DuckDB adds that it served v3's table (DuckDB reuses it; Spark reuses no table
# and scores the same rows itself): the only text that differs by engine.
REUSE_NOTE = ": v3's rows, v4's final choice being v3 itself"


@pytest.fixture(scope="module")
def spark(spark_demo):
    """A SparkSession on the finished build's catalogue (its embedded Derby is free once dbt ended): the
    only one the tests open on it."""

    warehouse = spark_demo / "warehouse"
    session = spark_session_on(warehouse, "ltv-parity")
    yield session
    session.stop()


def _plain(value):
    """A cell as a value both engines' frames agree on: numbers (integers a column with nulls holds as
    floats on either side, decimals) as float, times as naive ISO text, arrays as tuples, JSON object text
    as its parsed dict, missing as None; DuckDB's note that v4 served v3's table dropped (REUSE_NOTE)."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return tuple(_plain(item) for item in value)
    if value is None or (not isinstance(value, (dict, str)) and pd.isna(value)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (decimal.Decimal, int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, (datetime.date, datetime.datetime, pd.Timestamp)):
        return pd.Timestamp(value).tz_localize(None).isoformat()
    if isinstance(value, str) and REUSE_NOTE in value:
        return value.replace(REUSE_NOTE, "")
    if isinstance(value, str) and value.startswith("{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _close(left, right) -> bool:
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_close(left[key], right[key]) for key in left)
    if isinstance(left, float) and isinstance(right, float):
        return (math.isnan(left) and math.isnan(right)) or abs(left - right) <= TOLERANCE * max(1.0, abs(left))
    return left == right


def _exact_part(row: dict) -> tuple:
    """What must match exactly: every value but floats and JSON objects (compared within TOLERANCE)."""
    return tuple(sorted((name, repr(value)) for name, value in row.items() if not isinstance(value, (float, dict))))


def _rows(frame: pd.DataFrame) -> list[dict]:
    kept = [column for column in frame.columns if column not in BUILD_STAMPS]
    return [{column: _plain(value) for column, value in zip(kept, values, strict=True)}
            for values in frame[kept].itertuples(index=False, name=None)]


def _differences(duckdb_rows: list[dict], spark_rows: list[dict]) -> list:
    """Rows of one engine with no match in the other: matched first on their exact part, then within
    TOLERANCE on the rest (rows with the same exact part paired in order of their floats)."""
    by_exact: dict[tuple, list[dict]] = {}
    for row in spark_rows:
        by_exact.setdefault(_exact_part(row), []).append(row)
    unmatched = []
    for row in duckdb_rows:
        candidates = by_exact.get(_exact_part(row), [])
        match = next((index for index, candidate in enumerate(candidates)
                      if all(_close(row[name], candidate[name]) for name in row)), None)
        if match is None:
            unmatched.append(row)
        else:
            candidates.pop(match)
    return unmatched + [row for rows in by_exact.values() for row in rows]


def _public_relations(demo_warehouse) -> list[str]:
    manifest = json.loads((demo_warehouse.parent / "target" / "manifest.json").read_text())
    names = set()
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model" and node.get("access") == "public":
            names.add(node.get("alias") or node["name"])
            if node.get("version") is not None and str(node.get("version")) == str(node.get("latest_version")):
                names.add(node["name"])
    return sorted(names)


def test_every_public_relation_on_spark_is_duckdbs(demo_warehouse, spark):
    import duckdb

    names = _public_relations(demo_warehouse)
    assert {"dim_users", "fct_user_value_predictions", "fct_user_recommendations", "fct_model_runs"} <= set(names)
    compared, problems = Counter(), {}
    with duckdb.connect(str(demo_warehouse), read_only=True) as connection:
        for name in names:
            duckdb_frame = connection.sql(f"select * from main.{name}").df()
            spark_frame = spark.table(f"main.{name}").toPandas()
            if sorted(duckdb_frame.columns) != sorted(spark_frame.columns):
                problems[name] = ("columns", sorted(set(duckdb_frame.columns) ^ set(spark_frame.columns)))
                continue
            differing = _differences(_rows(duckdb_frame), _rows(spark_frame[list(duckdb_frame.columns)]))
            if differing or len(duckdb_frame) != len(spark_frame):
                problems[name] = (len(duckdb_frame), len(spark_frame), differing[:3])
            compared[name] = len(duckdb_frame)
    assert problems == {}
    # The demo fills every public relation: an empty one on both engines would compare equal and prove nothing.
    assert [name for name, rows in compared.items() if rows == 0] == []


def test_the_parity_check_notices_a_changed_number_and_a_missing_row():
    rows = [{"user_id": "u1", "spend": 1.0, "segment": "a"}, {"user_id": "u2", "spend": 2.0, "segment": "b"}]
    assert _differences(rows, [dict(row) for row in rows]) == []
    assert _differences(rows, [rows[0], {**rows[1], "spend": 2.0 + 1e-12}]) == []
    assert _differences(rows, [rows[0], {**rows[1], "spend": 2.001}]) != []
    assert _differences(rows, [rows[0]]) == [rows[1]]
    assert _differences(rows, [rows[0], {**rows[1], "segment": "c"}]) != []


def test_spark_ran_every_node_of_the_project(spark_demo):
    results = json.loads((spark_demo / "first_build" / "run_results.json").read_text())["results"]
    manifest = json.loads((spark_demo / "target" / "manifest.json").read_text())
    statuses = Counter(result["status"] for result in results)
    assert set(statuses) <= {"success", "pass", "no-op"}, statuses
    models = {unique_id for unique_id, node in manifest["nodes"].items()
              if node["resource_type"] == "model" and node["package_name"] == "ltv"}
    assert models <= {result["unique_id"] for result in results}
    assert sum(1 for result in results if result["unique_id"].startswith("test.")) >= 200
