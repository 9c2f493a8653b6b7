"""Python models run on the spark target's own SparkSession (ltv.engines.spark_session_submission,
registered by the dbt plugin in src/dbt_ltv): dbt-spark alone would send them to Databricks.

A throw-away project with one seed and two Python models, one returning a Spark DataFrame and one a
pandas frame (as ltv's models do today), is built on the project's real `spark` target; the tables
Spark wrote are read back as Parquet files, without Spark, and compared with totals computed here."""

from __future__ import annotations

import os
import subprocess
import textwrap
from collections import defaultdict
from pathlib import Path

import duckdb
import pytest
from conftest import PROJECT_DIR, dbt_executable

pytest.importorskip("pyspark", reason="the spark extra is not installed (pip install -e '.[spark]')")

ORDERS = [("u1", 12.5), ("u2", 3.25), ("u1", 7.0), ("u3", 100.0), ("u2", 0.75), ("u1", 0.5)]

SPARK_MODEL = """
from pyspark.sql import functions as F


def model(dbt, session):
    dbt.config(materialized="table")
    orders = dbt.ref("orders")
    return orders.groupBy("user_id").agg(F.sum("amount").alias("total"), F.count("*").alias("orders"))
"""

PANDAS_MODEL = """
def model(dbt, session):
    dbt.config(materialized="table")
    orders = dbt.ref("orders").toPandas()
    totals = orders.groupby("user_id", as_index=False).agg(total=("amount", "sum"), orders=("amount", "size"))
    return totals.astype({"orders": "int64"})
"""


def write_probe_project(project: Path) -> None:
    (project / "models").mkdir(parents=True)
    (project / "seeds").mkdir()
    (project / "dbt_project.yml").write_text(textwrap.dedent("""\
        name: spark_probe
        version: "1.0"
        config-version: 2
        profile: ltv
        flags: {send_anonymous_usage_stats: false}
        models: {+file_format: parquet}
        seeds: {+file_format: parquet, +column_types: {user_id: string, amount: double}}
        """))
    lines = ["user_id,amount", *(f"{user},{amount}" for user, amount in ORDERS)]
    (project / "seeds" / "orders.csv").write_text("\n".join(lines) + "\n")
    (project / "models" / "user_totals.py").write_text(SPARK_MODEL)
    (project / "models" / "user_totals_pandas.py").write_text(PANDAS_MODEL)


def parquet_table(warehouse: Path, table: str) -> dict:
    files = str(warehouse / "main.db" / table / "*.parquet")
    rows = duckdb.sql(f"select user_id, total, orders from read_parquet('{files}') order by user_id").fetchall()
    return {user: (total, orders) for user, total, orders in rows}


@pytest.fixture(scope="module")
def probe_build(tmp_path_factory):
    project = tmp_path_factory.mktemp("spark_probe")
    write_probe_project(project)
    environment = dict(os.environ)
    environment.update({
        "LTV_TARGET": "spark",
        "LTV_SPARK_WAREHOUSE_DIR": str(project / "warehouse"),
        "DBT_PROFILES_DIR": str(PROJECT_DIR / "profiles"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    })
    result = subprocess.run([dbt_executable(), "build"], cwd=project, env=environment, capture_output=True, text=True)
    return project, result


def test_python_models_build_on_the_spark_session(probe_build):
    project, result = probe_build
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "Completed successfully" in result.stdout

    expected = defaultdict(lambda: [0.0, 0])
    for user, amount in ORDERS:
        expected[user][0] += amount
        expected[user][1] += 1
    expected = {user: (total, count) for user, (total, count) in expected.items()}
    assert parquet_table(project / "warehouse", "user_totals") == expected
    assert parquet_table(project / "warehouse", "user_totals_pandas") == expected


def test_the_python_model_ran_in_the_build_process_not_on_databricks(probe_build):
    project, result = probe_build
    log = (project / "logs" / "dbt.log").read_text()
    # dbt-spark's Databricks helpers would have needed a cluster id and a token.
    assert "Databricks" not in log and "cluster_id" not in log
    assert "OK created python table model main.user_totals" in result.stdout
