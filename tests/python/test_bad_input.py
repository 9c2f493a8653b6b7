"""Bad input stops the build with a message that names what is wrong; nothing runs after it."""

from __future__ import annotations

import shutil

import duckdb
import pandas as pd
from conftest import MODEL_SCHEMAS_SQL, build_warehouse


def copy_shop(source, target):
    shutil.copytree(source, target)
    return target


def model_schema_tables(warehouse_path) -> list[str]:
    """The tables in the schemas the models write (main and the internals')."""
    if not warehouse_path.exists():  # refused before dbt even opened the warehouse
        return []
    connection = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        return [row[0] for row in connection.execute(
            f"select table_name from information_schema.tables where table_schema in {MODEL_SCHEMAS_SQL}").fetchall()]
    finally:
        connection.close()


def test_a_missing_required_column_names_the_table_and_column(small_shop, tmp_path):
    shop = copy_shop(small_shop, tmp_path / "shop")
    orders = pd.read_parquet(shop / "orders.parquet").drop(columns=["status"])
    orders.to_parquet(shop / "orders.parquet", index=False)
    _, result = build_warehouse(tmp_path / "build", raw_dir=shop, check=False)
    assert result.returncode != 0
    assert "raw table 'orders' is missing required column(s): status" in result.stdout


def test_a_missing_required_file_names_the_file(small_shop, tmp_path):
    shop = copy_shop(small_shop, tmp_path / "shop")
    (shop / "orders.parquet").unlink()
    _, result = build_warehouse(tmp_path / "build", raw_dir=shop, check=False)
    assert result.returncode != 0
    assert f"has no file for raw table 'orders': expected {shop}/orders.parquet or {shop}/orders.csv" in result.stdout


def test_sql_injection_through_a_var_is_refused_before_anything_runs(small_shop, tmp_path):
    warehouse, result = build_warehouse(
        tmp_path / "build", raw_dir=small_shop, check=False,
        extra_arguments=["--vars", "{ltv_cutoff_date: \"2024-01-01'; drop table x; --\"}"])
    assert result.returncode != 0
    assert "var 'ltv_cutoff_date' must be a date written YYYY-MM-DD" in result.stdout
    assert model_schema_tables(warehouse) == []


def test_an_impossible_date_a_non_positive_horizon_and_a_non_boolean_name_their_var(small_shop, tmp_path):
    _, result = build_warehouse(tmp_path / "build", raw_dir=small_shop, check=False, extra_arguments=[
        "--vars", "{ltv_cutoff_date: '2024-02-30', ltv_horizon_days: 0, ltv_reuse_unchanged_work: 'sometimes'}"])
    assert result.returncode != 0
    assert "3 problems with vars:" in result.stdout, result.stdout[-3000:]
    assert "var 'ltv_cutoff_date' is not a real calendar date" in result.stdout
    assert "var 'ltv_horizon_days' must be greater than 0" in result.stdout
    assert "var 'ltv_reuse_unchanged_work' must be true or false, got 'sometimes'" in result.stdout


def test_a_shop_without_events_reviews_or_support_builds_with_empty_dependants(small_shop, tmp_path):
    shop = copy_shop(small_shop, tmp_path / "shop")
    for table in ["events", "reviews", "support_conversations"]:
        frame = pd.read_parquet(shop / f"{table}.parquet")
        frame.iloc[0:0].to_parquet(shop / f"{table}.parquet", index=False)
    warehouse, _ = build_warehouse(tmp_path / "build", raw_dir=shop)
    connection = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert connection.sql("select count(*) from fct_text_sentiment").fetchall()[0][0] == 0
        assert connection.sql("select count(*) from fct_conversation_experience").fetchall()[0][0] == 0
        users = connection.sql("select count(*) from staging.stg_shop__users").fetchall()[0][0]
        assert connection.sql("select count(*) from dim_users").fetchall()[0][0] == users
        skipped = connection.sql(
            "select count(*) from fct_model_runs where status = 'skipped' and model_name = 'conversation_experience'"
        ).fetchall()[0][0]
        assert skipped == 2
    finally:
        connection.close()
