"""Python models run on the spark target's own SparkSession (ltv.engines.spark_session_submission,
registered by the dbt plugin in src/dbt_ltv): dbt-spark alone would send them to Databricks.

A throw-away project (spark_extra_builds.py) with two seeds and two Python models, one returning a Spark DataFrame
and one a pandas frame (as ltv's models do), is built on the project's real `spark` target (by spark_demo,
after the demo, in its process); the tables Spark wrote are read back as Parquet files, without Spark, and
compared with totals computed here. The second seed holds the texts dbt-spark's own seed loading mangles
(macros/spark/spark_seeds.sql)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import duckdb
import pytest
from conftest import requires_spark
from spark_extra_builds import NOTES, ORDERS, PROBE_SCHEMA

requires_spark()


def parquet_table(warehouse: Path, table: str) -> dict:
    files = str(warehouse / f"{PROBE_SCHEMA}.db" / table / "*.parquet")
    rows = duckdb.sql(f"select user_id, total, orders from read_parquet('{files}') order by user_id").fetchall()
    return {user: (total, orders) for user, total, orders in rows}


@pytest.fixture(scope="module")
def probe_build(spark_demo):
    """(the probe project's folder, its build's console output, the Spark warehouse it was built into)."""
    project = spark_demo / "probe"
    return project, (project / "build.log").read_text(), spark_demo / "warehouse"


def test_python_models_build_on_the_spark_session(probe_build):
    _, output, warehouse = probe_build
    assert "Completed successfully" in output, output[-6000:]

    expected = defaultdict(lambda: [0.0, 0])
    for user, amount in ORDERS:
        expected[user][0] += amount
        expected[user][1] += 1
    expected = {user: (total, count) for user, (total, count) in expected.items()}
    assert parquet_table(warehouse, "user_totals") == expected
    assert parquet_table(warehouse, "user_totals_pandas") == expected


def test_the_python_model_ran_in_the_build_process_not_on_databricks(probe_build):
    project, output, _ = probe_build
    log = (project / "logs" / "dbt.log").read_text()
    # dbt-spark's Databricks helpers would have needed a cluster id and a token.
    assert "Databricks" not in log and "cluster_id" not in log
    assert f"OK created python table model {PROBE_SCHEMA}.user_totals" in output


def test_seeds_keep_empty_cells_null_and_texts_exact(probe_build):
    _, output, warehouse = probe_build
    assert "Completed successfully" in output, output[-6000:]
    files = str(warehouse / f"{PROBE_SCHEMA}.db" / "notes" / "*.parquet")
    loaded = duckdb.sql(f"select note_id, note from read_parquet('{files}') order by note_id").fetchall()
    assert loaded == sorted(NOTES)
