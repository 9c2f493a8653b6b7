"""A warehouse that once held the demo, switched to LTV_RAW_SOURCE=warehouse without --fresh: the
demo's tables are still in the raw schema, and none of them may be read as the shop's own. (The
demo ↔ files switches run through `ltv publish` in test_publish_anywhere.py.)"""

from __future__ import annotations

import duckdb
import pytest
from conftest import dbt_environment, run_dbt

RAW_TABLES = ["users", "items", "orders", "order_items", "events", "reviews", "support_conversations"]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """A warehouse after a demo `dbt seed`: the seven demo tables in raw."""
    work_dir = tmp_path_factory.mktemp("switch_to_warehouse")
    warehouse = work_dir / "warehouse.duckdb"
    run_dbt(["seed"], dbt_environment(warehouse, work_dir))
    return work_dir, warehouse


def raw_tables_model(work_dir, warehouse) -> str:
    environment = dbt_environment(warehouse, work_dir)
    environment["LTV_RAW_SOURCE"] = "warehouse"
    result = run_dbt(["run", "--select", "base_shop__raw_tables"], environment, check=False)
    return result.stdout if result.returncode else ""


def execute(warehouse, *statements: str) -> None:
    connection = duckdb.connect(str(warehouse))
    try:
        for statement in statements:
            connection.execute(statement)
    finally:
        connection.close()


def test_the_demo_tables_say_what_they_are(seeded):
    _, warehouse = seeded
    connection = duckdb.connect(str(warehouse), read_only=True)
    comments = dict(connection.execute("select table_name, comment from duckdb_tables() where schema_name = 'raw'").fetchall())
    connection.close()
    assert sorted(comments) == sorted(RAW_TABLES)
    assert all(comment.startswith("Demo ") for comment in comments.values())


def test_a_demo_table_left_in_raw_is_refused_by_name_then_the_shops_own_tables_build(seeded):
    work_dir, warehouse = seeded
    # The shop loads its own users (a table it made, so no comment) and nothing else yet.
    execute(warehouse, "create or replace table raw.users as select * from raw.users")
    error = raw_tables_model(work_dir, warehouse)
    assert "raw table 'items' (\"warehouse\".\"raw\".\"items\") is the bundled demo's, left by an earlier demo build, " \
           "not the shop's own" in error
    # It loads the other required tables and drops the optional ones it does not have.
    execute(warehouse, *[f"create or replace table raw.{table} as select * from raw.{table}"
                         for table in ("items", "orders", "order_items")],
            *[f"drop table raw.{table}" for table in ("events", "reviews", "support_conversations")])
    assert raw_tables_model(work_dir, warehouse) == ""
    connection = duckdb.connect(str(warehouse), read_only=True)
    present = dict(connection.execute("select raw_table, is_present from staging.base_shop__raw_tables").fetchall())
    connection.close()
    assert present == {"users": True, "items": True, "orders": True, "order_items": True,
                       "events": False, "reviews": False, "support_conversations": False}


def test_an_optional_demo_table_left_behind_is_refused_too(seeded):
    # Loading only the required tables would otherwise build the shop with the demo's reviews.
    work_dir, warehouse = seeded
    execute(warehouse, "create table raw.reviews as select * from raw.order_items limit 0",
            "comment on table raw.reviews is 'Demo reviews.'")
    error = raw_tables_model(work_dir, warehouse)
    assert "raw table 'reviews'" in error and "or drop it if the shop has none (it is optional)" in error
