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
import pandas as pd
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


# --- The text branch on Spark equals DuckDB's ------------------------------------------------------------
#
# int_texts_masked (masking in the executors' Python workers, source_hash by DuckDB there, text_hash by
# Spark's sha2), ml_text_sentiment v1 (TextBlob in the workers) and ml_sentiment_evaluation (rank
# metrics as Spark aggregates) are built from the demo on both engines; Spark's Parquet tables are
# read back without Spark.

# Cautious: a data test of these models that also reads a model outside them (quarantine_rows) is left out.
TEXT_BRANCH = ["-s", "+ml_text_sentiment.v1", "+ml_sentiment_evaluation", "--indirect-selection", "cautious"]
TEXT_TABLES = {  # Spark's table folder -> (DuckDB table, key columns)
    "intermediate.db/int_texts_masked": ("intermediate.int_texts_masked", ["text_source", "source_id"]),
    "ml.db/ml_text_sentiment_v1": ("ml.ml_text_sentiment_v1", ["text_source", "text_hash"]),
    "ml.db/ml_sentiment_evaluation": ("ml.ml_sentiment_evaluation", ["text_source"]),
}


@pytest.fixture(scope="module")
def text_branch_on_both_engines(tmp_path_factory):
    from conftest import build_warehouse

    duckdb_path, _ = build_warehouse(tmp_path_factory.mktemp("text_duckdb"), extra_arguments=TEXT_BRANCH)
    work = tmp_path_factory.mktemp("text_spark")
    environment = dict(os.environ)
    environment.update({
        "LTV_TARGET": "spark", "LTV_SPARK_WAREHOUSE_DIR": str(work / "warehouse"),
        "DBT_PROFILES_DIR": str(PROJECT_DIR / "profiles"), "DBT_TARGET_PATH": str(work / "target"),
        "DBT_LOG_PATH": str(work / "logs"), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    })
    result = subprocess.run([dbt_executable(), "build", *TEXT_BRANCH], cwd=PROJECT_DIR, env=environment,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    return duckdb_path, work / "warehouse"


def _rows(connection, relation: str, keys: list[str]) -> dict:
    frame = connection.sql(f"select * from {relation}").df()
    return {tuple(row[key] for key in keys): row for row in frame.to_dict("records")}


def _same_value(left, right) -> bool:
    if left is None or right is None or (isinstance(left, float) and isinstance(right, float)):
        if pd.isna(left) or pd.isna(right):
            return bool(pd.isna(left) and pd.isna(right))
        return abs(left - right) <= 1e-9
    return left == right


def test_the_text_branch_on_spark_has_duckdbs_rows(text_branch_on_both_engines):
    duckdb_path, warehouse = text_branch_on_both_engines
    with duckdb.connect(str(duckdb_path), read_only=True) as connection:
        for folder, (table, keys) in TEXT_TABLES.items():
            expected = _rows(connection, table, keys)
            spark_rows = _rows(connection, f"read_parquet('{warehouse / folder}/*.parquet')", keys)
            assert len(expected) > (1 if "evaluation" in table else 1000), table
            assert spark_rows.keys() == expected.keys(), table
            for key, row in expected.items():
                assert set(spark_rows[key]) == set(row), table
                differing = [column for column in row if not _same_value(spark_rows[key][column], row[column])]
                assert not differing, (table, key, differing, spark_rows[key], row)


def test_spark_scores_are_textblobs_and_hashes_the_texts_sha256(text_branch_on_both_engines):
    """Independently of the DuckDB build: Spark's text_hash is the SHA-256 of the masked text, and its
    v1 polarity and subjectivity are TextBlob's own for the English texts."""
    import hashlib

    from textblob import TextBlob

    _, warehouse = text_branch_on_both_engines
    texts = duckdb.sql(f"""
        select texts.masked_text, texts.text_hash, scores.polarity, scores.subjectivity, scores.not_scored_reason
        from read_parquet('{warehouse}/intermediate.db/int_texts_masked/*.parquet') as texts
        join read_parquet('{warehouse}/ml.db/ml_text_sentiment_v1/*.parquet') as scores
            using (text_source, text_hash)
        order by texts.text_hash limit 300""").fetchall()
    assert len(texts) == 300
    english = 0
    for masked_text, text_hash, polarity, subjectivity, reason in texts:
        assert text_hash == hashlib.sha256(masked_text.encode()).hexdigest()
        if reason is None:
            english += 1
            assert (polarity, subjectivity) == tuple(TextBlob(masked_text).sentiment)
        else:
            assert reason == "not_english" and polarity is None and subjectivity is None
    assert english > 200


def test_spark_records_the_evaluation_runs_duckdb_records(text_branch_on_both_engines):
    import json

    duckdb_path, warehouse = text_branch_on_both_engines
    query = """select model_name, model_version, method, status, message, train_rows, holdout_rows, cutoff_date,
                      horizon_days, parameters_json, metrics_json from {} where method = 'textblob' order by model_name"""
    with duckdb.connect(str(duckdb_path), read_only=True) as connection:
        expected = connection.sql(query.format("registry.model_run_log")).fetchall()
        recorded = connection.sql(query.format(
            f"read_parquet('{warehouse}/registry.db/model_run_log/*.parquet')")).fetchall()
    assert [row[0] for row in expected] == ["support_sentiment", "text_sentiment"]
    assert [row[:-2] for row in recorded] == [row[:-2] for row in expected]
    for spark_row, duckdb_row in zip(recorded, expected, strict=True):
        assert json.loads(spark_row[-2]) == json.loads(duckdb_row[-2])
        spark_metrics, duckdb_metrics = json.loads(spark_row[-1]), json.loads(duckdb_row[-1])
        assert spark_metrics.keys() == duckdb_metrics.keys()
        assert all(_same_value(spark_metrics[name], duckdb_metrics[name]) for name in duckdb_metrics), (
            spark_metrics, duckdb_metrics)
