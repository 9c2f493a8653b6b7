"""Python models run on the spark target's own SparkSession (ltv.engines.spark_session_submission,
registered by the dbt plugin in src/dbt_ltv): dbt-spark alone would send them to Databricks.

A throw-away project with two seeds and two Python models, one returning a Spark DataFrame and one a
pandas frame (as ltv's models do today), is built on the project's real `spark` target; the tables
Spark wrote are read back as Parquet files, without Spark, and compared with totals computed here.
The second seed holds the texts dbt-spark's own seed loading mangles (macros/spark/spark_seeds.sql)."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from collections import defaultdict
from pathlib import Path

import duckdb
import pytest
from conftest import PROJECT_DIR, dbt_executable, requires_spark

requires_spark()

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


# Texts that dbt-spark's own seed loading mangles: an empty cell (it wrote the string 'None'), an
# apostrophe (it ended the SQL literal early), and a backslash (Spark reads it as an escape).
NOTES = [("n1", "it's fine"), ("n2", None), ("n3", "back\\slash and \"quotes\", commas")]


def notes_csv() -> str:
    def cell(text):
        return "" if text is None else '"' + text.replace('"', '""') + '"'

    return "note_id,note\n" + "".join(f"{note_id},{cell(text)}\n" for note_id, text in NOTES)


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
        seeds:
          +file_format: parquet
          spark_probe:
            orders: {+column_types: {user_id: string, amount: double}}
            notes: {+column_types: {note_id: string, note: string}}
        """))
    (project / "seeds" / "notes.csv").write_text(notes_csv())
    # ltv's seed loading for Spark, as the project has it (without it the apostrophe is a syntax error).
    (project / "macros").mkdir()
    shutil.copy(PROJECT_DIR / "macros" / "spark" / "spark_seeds.sql", project / "macros")
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


def test_seeds_keep_empty_cells_null_and_texts_exact(probe_build):
    project, result = probe_build
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    files = str(project / "warehouse" / "main.db" / "notes" / "*.parquet")
    loaded = duckdb.sql(f"select note_id, note from read_parquet('{files}') order by note_id").fetchall()
    assert loaded == sorted(NOTES)
