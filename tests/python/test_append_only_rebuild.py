"""A rebuild after rows were appended to Parquet raw files checks only the new rows (and the rows
whose verdict they can change), and every base table still equals a fresh build on the same files.

The appended rows are chosen to change verdicts of rows checked by the first build: a late parent
makes an old `unknown_order` line valid, a new version of an accepted key sorts first and turns the
old version into a `duplicate_key`, and an exact copy of an accepted line is a `duplicate`."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import NO_RUN_ARTIFACTS, dbt_environment, run_dbt

from ltv.generate import generate_shop

TABLES = ["users", "items", "orders", "order_items", "events", "reviews", "support_conversations"]
BASE_TABLES = [f"base_shop__{table}" for table in TABLES]


def _write_with_appended_rows(source: Path, target: Path, appended: dict[str, str], replaced: dict[str, str] | None = None):
    """Copy the raw files of `source` to `target`, appending the rows each query of `appended`
    returns (after the existing ones, in file order) and replacing whole tables by `replaced`.
    Queries see the source tables as views named like the tables."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)
    connection = duckdb.connect()
    for table in TABLES:
        connection.execute(f"create view {table} as select * from read_parquet('{source}/{table}.parquet')")
    for table, query in {**appended, **(replaced or {})}.items():
        existing = pq.read_table(source / f"{table}.parquet")
        rows = connection.sql(query).to_arrow_table()
        rows = pa.Table.from_arrays([rows.column(index).cast(field.type) for index, field in enumerate(existing.schema)],
                                    schema=existing.schema)
        pq.write_table(rows if table in (replaced or {}) else pa.concat_tables([existing, rows]), target / f"{table}.parquet")
    connection.close()


def _build_base_tables(work_dir: Path, raw_dir: Path) -> Path:
    work_dir.mkdir(parents=True, exist_ok=True)
    warehouse = work_dir / "warehouse.duckdb"
    run_dbt(["run", "--select", "path:models/staging/base", *NO_RUN_ARTIFACTS], dbt_environment(warehouse, work_dir, raw_dir))
    return warehouse


def _first_new_rows(work_dir: Path) -> dict[str, str]:
    """Per base table, the plan its last compiled SQL carried: 'all' rows or the first new row."""
    plans = {}
    for table in BASE_TABLES:
        sql = next((work_dir / "target" / "compiled").rglob(f"{table}.sql")).read_text()
        plans[table] = re.search(r"first_new_row=(\w+)", sql).group(1)
    return plans


def _base_tables(warehouse: Path) -> dict[str, list]:
    connection = duckdb.connect(str(warehouse), read_only=True)
    try:
        # checked_at says when a row was checked, which differs between the builds compared.
        return {table: connection.execute(f"select * exclude (checked_at) from staging.{table} order by all").fetchall()
                for table in BASE_TABLES}
    finally:
        connection.close()


def _assert_same_as_fresh_build(incremental: Path, raw_dir: Path, work_dir: Path):
    fresh = _build_base_tables(work_dir, raw_dir)
    incremental_tables, fresh_tables = _base_tables(incremental), _base_tables(fresh)
    for table in BASE_TABLES:
        assert incremental_tables[table] == fresh_tables[table], table


# Ids of the first clean rows the generator writes.
USER_ID, ITEM_ID = "U0000001", "I00001"


@pytest.fixture(scope="module")
def dirty_shop(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("dirty_shop")
    generate_shop(300, folder, seed=8, file_format="parquet", n_items=80, dirty=True)
    # One line whose order arrives only later: an unknown_order until then.
    _write_with_appended_rows(folder, folder / "first", {
        "order_items": f"select 'late-order', '{ITEM_ID}', '1', '5.0'",
    })
    return folder / "first"


@pytest.fixture(scope="module")
def first_build(dirty_shop, tmp_path_factory) -> Path:
    """The base tables of dirty_shop, built once for the tests that start from them (each rebuilds a
    copy of the warehouse): the work folder, with the plans its compiled SQL carried."""
    work_dir = tmp_path_factory.mktemp("first_build")
    _build_base_tables(work_dir, dirty_shop)
    return work_dir


def _copy_of_first_build(first_build: Path, work_dir: Path) -> Path:
    work_dir.mkdir(parents=True)
    shutil.copy2(first_build / "warehouse.duckdb", work_dir / "warehouse.duckdb")
    return work_dir / "warehouse.duckdb"


def _reasons(warehouse: Path, order_id: str, item_id: str | None = None) -> list:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(
            "select unit_price, quarantine_reason from staging.base_shop__order_items where order_id = ? "
            "and (? is null or item_id = ?) order by unit_price", [order_id, item_id, item_id]).fetchall()


def test_appended_rows_are_checked_with_the_rows_they_affect(dirty_shop, first_build, tmp_path):
    assert set(_first_new_rows(first_build).values()) == {"all"}
    warehouse = _copy_of_first_build(first_build, tmp_path / "incremental")
    assert _reasons(warehouse, "late-order") == [(5.0, "unknown_order")]
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        # Two accepted lines with prices above 0.01: one gets a new version, one an exact copy.
        (order_id, item_id, quantity, price), (copied_order_id, copied_item_id, _, copied_price) = connection.execute(
            "select order_id, item_id, quantity, unit_price from staging.base_shop__order_items "
            "where quarantine_reason is null and unit_price > 1 and order_id like 'O%' order by order_id, item_id limit 2"
        ).fetchall()

    appended_dir = tmp_path / "appended"
    _write_with_appended_rows(dirty_shop, appended_dir, {
        "orders": f"select 'late-order', '{USER_ID}', '2025-01-02 10:00:00', 'completed'",
        "order_items": f"""
            select '{order_id}', '{item_id}', '{quantity}', '0.01'
            union all
            select * from order_items where order_id = '{copied_order_id}' and item_id = '{copied_item_id}'
            union all
            select 'late-order', 'I00002', '-1', '3.0'""",
        "reviews": f"select 'new-review', '{USER_ID}', '{ITEM_ID}', '5', 'Great', '2025-01-03 10:00:00'",
    })
    _build_base_tables(tmp_path / "incremental", appended_dir)

    # Only the tables with appended rows were checked again, and only from their first new row on.
    plans = _first_new_rows(tmp_path / "incremental")
    for table in ("orders", "order_items", "reviews"):
        assert plans[f"base_shop__{table}"] == str(len(pq.read_table(dirty_shop / f"{table}.parquet"))), table
    # The late order made its old line valid (the new line has a bad quantity); the new version of
    # a key sorts first ('0.01') and wins over the old one; an exact copy is a duplicate.
    assert _reasons(warehouse, "late-order") == [(3.0, "non_positive_quantity"), (5.0, None)]
    assert _reasons(warehouse, order_id, item_id) == [(0.01, None), (price, "duplicate_key")]
    assert sorted(_reasons(warehouse, copied_order_id, copied_item_id), key=str) == [
        (copied_price, "duplicate"), (copied_price, None)]

    _assert_same_as_fresh_build(warehouse, appended_dir, tmp_path / "fresh")


def test_changed_rows_or_lost_parents_check_every_row(dirty_shop, first_build, tmp_path):
    warehouse = _copy_of_first_build(first_build, tmp_path / "incremental")
    # An existing order changes (not an append): orders are checked in full. Its lines only get an
    # appended row, but an accepted line may have lost its order, so they are checked in full too.
    changed_dir = tmp_path / "changed"
    _write_with_appended_rows(dirty_shop, changed_dir, {
        "order_items": "select * from order_items limit 1",
    }, replaced={
        "orders": "select order_id, case when order_id = (select min(order_id) from orders) then '' else user_id end, "
                  "ordered_at, status from orders",
    })
    _build_base_tables(tmp_path / "incremental", changed_dir)
    plans = _first_new_rows(tmp_path / "incremental")
    assert plans["base_shop__orders"] == "all"
    assert plans["base_shop__order_items"] == "all"
    assert plans["base_shop__users"] != "all"
    _assert_same_as_fresh_build(warehouse, changed_dir, tmp_path / "fresh")


# The tables downstream of the base tables that recompute only the keys with rows checked since
# their last build (materialization changed_keys_table), and the run that builds them.
CHANGED_KEYS_TABLES = ["int_orders_summarized", "int_user_item_interactions_aggregated"]
# Views weigh something here so that appended events change interactions too.
PINNED_VARS = '{"ltv_cutoff_date": "2024-06-30", "ltv_view_weight": 0.5, "ltv_add_to_cart_weight": 1.0}'


def _build_changed_keys_tables(work_dir: Path, raw_dir: Path, variables: str = PINNED_VARS) -> Path:
    work_dir.mkdir(parents=True, exist_ok=True)
    warehouse = work_dir / "warehouse.duckdb"
    selection = [f"+{table}" for table in CHANGED_KEYS_TABLES]
    run_dbt(["run", "--select", *selection, "--vars", variables, *NO_RUN_ARTIFACTS], dbt_environment(warehouse, work_dir, raw_dir))
    return warehouse


def _tables(warehouse: Path, tables: list[str]) -> dict[str, list]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return {table: connection.execute(f"select * from intermediate.{table} order by all").fetchall() for table in tables}


def _recomputed_keys(work_dir: Path) -> dict[str, int]:
    """Per changed_keys_table, how many keys the last run recomputed (absent: rebuilt in full)."""
    log = (work_dir / "logs" / "dbt.log").read_text()
    last_run = log[log.rfind("Running with dbt"):]
    return {name.split(".")[-1]: int(count) for name, count in
            re.findall(r"changed_keys_table (\S+): recomputed the rows of (\d+) changed keys", last_run)}


def _key_filters(work_dir: Path) -> dict[str, set[str]]:
    """Per changed_keys_table, what its in_changed_keys() filters rendered as in the last run."""
    return {table: set(re.findall(r"/\* ltv:key_filter .*? \*/ (.*?) /\* ltv:end_key_filter \*/", next(
                (work_dir / "target" / "compiled").rglob(f"{table}.sql")).read_text()))
            for table in CHANGED_KEYS_TABLES}


def test_downstream_tables_recompute_only_changed_keys(dirty_shop, tmp_path):
    warehouse = _build_changed_keys_tables(tmp_path / "incremental", dirty_shop)
    assert _recomputed_keys(tmp_path / "incremental") == {}
    # The first build recomputes every key: no row is kept to the set of all keys.
    assert _key_filters(tmp_path / "incremental") == {table: {"true"} for table in CHANGED_KEYS_TABLES}
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        # A user with exactly one order and no weighed events: moving that order to another user
        # leaves them no rows at all, so the rebuild must delete a key it computes nothing for.
        moved_order_id, moved_from_user, ordered_at, status = connection.execute("""
            select order_id, user_id, cast(ordered_at as varchar), status from staging.stg_shop__orders
            where status = 'completed' and user_id > 'U0000002'
              and user_id in (select user_id from staging.stg_shop__orders group by user_id having count(*) = 1)
              and user_id not in (select user_id from staging.stg_shop__events where user_id is not null
                                  and event_type in ('view', 'add_to_cart') and item_id is not null)
              and order_id in (select order_id from staging.stg_shop__order_items)
            order by order_id limit 1""").fetchone()
        extended_order_id, = connection.execute(
            "select min(order_id) from staging.stg_shop__orders where status = 'completed' and order_id <> ?",
            [moved_order_id]).fetchone()
        viewing_user, = connection.execute("select max(user_id) from staging.base_shop__users where quarantine_reason is null").fetchone()
        # Rows waiting for a parent key are checked again in every rebuild, so their keys count as changed.
        waiting_orders, waiting_users, all_orders, all_users = connection.execute("""
            select
                (select count(distinct order_id) from (
                    select order_id from staging.base_shop__orders where quarantine_reason like 'unknown%'
                    union all
                    select order_id from staging.base_shop__order_items where quarantine_reason like 'unknown%')),
                (select count(distinct user_id) from (
                    select user_id from staging.base_shop__orders where quarantine_reason like 'unknown%'
                    union all
                    select orders.user_id from staging.base_shop__order_items as order_items
                    inner join staging.base_shop__orders as orders using (order_id)
                    where order_items.quarantine_reason like 'unknown%'
                    union all
                    select user_id from staging.base_shop__events where quarantine_reason like 'unknown%')),
                (select count(*) from intermediate.int_orders_summarized),
                (select count(distinct user_id) from intermediate.int_user_item_interactions_aggregated)""").fetchone()
        assert connection.execute("select count(*) from intermediate.int_user_item_interactions_aggregated where user_id = ?",
                                  [moved_from_user]).fetchone()[0] > 0

    appended_dir = tmp_path / "appended"
    _write_with_appended_rows(dirty_shop, appended_dir, {
        # The late order arrives (its waiting line becomes valid), an order gets a new version that
        # sorts first and so moves it to U0000001, and a new order is placed.
        "orders": f"""
            select 'late-order', '{USER_ID}', '2025-01-02 10:00:00', 'completed'
            union all
            select '{moved_order_id}', 'U0000001', '{ordered_at}', '{status}'
            union all
            select 'new-order', 'U0000002', '2025-01-05 10:00:00', 'completed'""",
        # A line for the new order and one more line for an existing order.
        "order_items": f"""
            select 'new-order', '{ITEM_ID}', '2', '4.0'
            union all
            select '{extended_order_id}', 'I00003', '1', '7.5'""",
        "events": f"""
            select 'new-event', '{viewing_user}', 'I00004', 'view', '2025-01-06 10:00:00'""",
    })
    _build_changed_keys_tables(tmp_path / "incremental", appended_dir)
    recomputed = _recomputed_keys(tmp_path / "incremental")
    # Orders: late-order, the moved order, new-order, the extended order. Users: each of those
    # orders' users (the moved order's old and new user) and the viewing user.
    assert 4 <= recomputed["int_orders_summarized"] <= 4 + waiting_orders < all_orders
    assert 4 <= recomputed["int_user_item_interactions_aggregated"] <= 5 + waiting_users < all_users
    assert _key_filters(tmp_path / "incremental") == {
        "int_orders_summarized": {"order_id in (select order_id from changed_orders)",
                                  "orders.order_id in (select order_id from changed_orders)"},
        "int_user_item_interactions_aggregated": {f"{column} in (select user_id from changed_users)"
                                                  for column in ("orders.user_id", "user_id", "reviews.user_id")}}
    fresh = _build_changed_keys_tables(tmp_path / "fresh", appended_dir)
    assert _tables(warehouse, CHANGED_KEYS_TABLES) == _tables(fresh, CHANGED_KEYS_TABLES)
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        assert connection.execute("select count(*) from intermediate.int_user_item_interactions_aggregated where user_id = ?",
                                  [moved_from_user]).fetchone()[0] == 0

    # Another cut-off changes what interactions count (a full rebuild), not what orders are worth.
    other_cutoff = PINNED_VARS.replace("2024-06-30", "2024-03-31")
    _build_changed_keys_tables(tmp_path / "incremental", appended_dir, other_cutoff)
    assert _recomputed_keys(tmp_path / "incremental") == {"int_orders_summarized": 0}
    fresh = _build_changed_keys_tables(tmp_path / "fresh_other_cutoff", appended_dir, other_cutoff)
    assert _tables(warehouse, CHANGED_KEYS_TABLES) == _tables(fresh, CHANGED_KEYS_TABLES)
