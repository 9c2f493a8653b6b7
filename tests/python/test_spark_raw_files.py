"""A real shop's raw files on the `spark` target (LTV_RAW_DIR, macros/spark/spark_raw_data.sql): CSV and
Parquet files, and the optional tables absent. The base tables Spark builds from them (spark_demo builds them,
in its process: spark_extra_builds.py) equal the DuckDB build's from the same files, row for row (quarantine
verdicts included), and the absent tables are read as empty."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
import pytest
from conftest import build_warehouse, requires_spark, spark_parquet
from spark_extra_builds import RAW_FILES_BASE_TABLES, RAW_FILES_SELECTION

requires_spark()


@pytest.fixture(scope="module")
def shop(spark_demo):
    return spark_demo / "raw_files_shop"


@pytest.fixture(scope="module")
def both_engines(shop, spark_demo, tmp_path_factory):
    """The DuckDB build of the shop's files here; the Spark build's tables as spark_demo copied them."""
    duckdb_path, _ = build_warehouse(tmp_path_factory.mktemp("files_duckdb"), shop, extra_arguments=RAW_FILES_SELECTION)
    return duckdb_path, spark_demo / "raw_files_build"


def assert_same_base_tables(duckdb_path, spark_warehouse, tables=RAW_FILES_BASE_TABLES) -> None:
    """Every raw row of the base tables with its typed values, verdict and raw JSON, both ways;
    checked_at says only when."""
    with duckdb.connect(str(duckdb_path), read_only=True) as connection:
        for table in tables:
            duckdb_table = f"staging.base_shop__{table}"
            columns = ", ".join(f'"{name}"' for name, *_ in connection.sql(f"describe {duckdb_table}").fetchall()
                                if name != "checked_at")
            spark_table = spark_parquet(spark_warehouse, f"staging.db/base_shop__{table}")
            rows, quarantined = connection.sql(
                f"select count(*), count(quarantine_reason) from {duckdb_table}").fetchall()[0]
            assert rows > 20 and quarantined > 0, table  # the dirty rows are there, and checked alike
            for left, right in ((duckdb_table, spark_table), (spark_table, duckdb_table)):
                differing = connection.sql(f"select {columns} from {left} except all select {columns} from {right}")
                assert differing.fetchall() == [], (table, left)


def _raw_tables(spark_warehouse) -> dict:
    return dict(duckdb.sql(f"select raw_table, location from {spark_parquet(spark_warehouse, 'staging.db/base_shop__raw_tables')}")
                .fetchall())


def test_the_base_tables_on_spark_equal_duckdbs(both_engines):
    assert_same_base_tables(*both_engines)


def test_day_first_sign_up_dates_read_as_written_and_only_the_injected_defects_are_quarantined(both_engines, shop):
    """users.csv is Latin-1, ';'-separated, with its sign-ups day first and the year last, some with a zone
    after a space (spark_extra_builds): each engine finds the encoding, the delimiter and the date order
    (equal tables, above), and reads each date as pandas does with that format, in UTC."""
    duckdb_path, _ = both_engines
    written = pd.read_csv(shop / "users.csv", sep=";", dtype=str, encoding="latin-1")
    written.columns = ["user_id", "signed_up_at", "country"]  # its header is "User ID;Signed Up At;Country"
    zone_form = r" (\+0100|Europe/Paris|UTC)$"
    zones = written.signed_up_at.str.extract(zone_form)[0].map({"+0100": "Etc/GMT-1", "Europe/Paris": "Europe/Paris"})
    assert zones.notna().sum() > 20
    bare = written.signed_up_at.str.replace(zone_form, "", regex=True)
    local = pd.to_datetime(bare, format="%d/%m/%Y %H:%M:%S", errors="coerce")
    for written_as in ("%d/%m/%y %I:%M:%S %p", "%d-%b-%Y %H:%M:%S", "%b %d, %Y %I:%M:%S %p"):
        local = local.fillna(pd.to_datetime(bare, format=written_as, errors="coerce"))
    assert bare.str.contains("-[A-Z][a-z]{2}-", regex=True).sum() > 5 and bare.str.contains(", ").sum() > 5
    expected = pd.Series([moment if pd.isna(moment) or pd.isna(zone) else
                          moment.tz_localize(zone).tz_convert("UTC").tz_localize(None)
                          for moment, zone in zip(local, zones, strict=True)])
    defects = json.loads((shop.parent / "generated" / "defects.json").read_text())["expected_quarantine"]["users"]
    with duckdb.connect(str(duckdb_path), read_only=True) as connection:
        reasons = dict(connection.sql("select quarantine_reason, count(*) from staging.base_shop__users "
                                      "where quarantine_reason is not null group by all").fetchall())
        countries = dict(connection.sql("select user_id, country from staging.base_shop__users "
                                        "where quarantine_reason is null").fetchall())
        accepted = connection.sql("select user_id, signed_up_at from staging.base_shop__users "
                                  "where quarantine_reason is null and signed_up_at is not null").fetchall()
    assert reasons == defects
    as_written = {(user, date.to_pydatetime()) for user, date in zip(written.user_id, expected, strict=True)
                  if not pd.isna(date)}
    assert len(accepted) > 100 and set(accepted) <= as_written
    # The Latin-1 file's names outside ASCII read as written (not as U+FFFD or two characters each).
    assert {"España", "Éire"} <= set(countries.values())
    # The row cut short after its id is a user with neither of the optional values.
    assert "U_CUT_SHORT" in countries and countries["U_CUT_SHORT"] is None
    once = written.drop_duplicates("user_id", keep=False)
    assert all(countries[user] == country for user, country in zip(once.user_id, once.country, strict=True)
               if user in countries and isinstance(country, str))


def test_item_ids_written_as_floats_read_as_the_integers_they_are(both_engines, shop):
    """items.parquet holds its ids as a DOUBLE column, the order lines as text '12.0' or '12'
    (spark_extra_builds): every id reads as its digits on both engines (equal tables, above), so the
    order lines find their items and only the injected defects are quarantined."""
    duckdb_path, _ = both_engines
    assert duckdb.sql(f"select distinct typeof(item_id) from '{shop}/items.parquet'").fetchall() == [("DOUBLE",)]
    assert duckdb.sql(f"select count(*) from '{shop}/order_items.parquet' where item_id like '%.0'").fetchall()[0][0] > 20
    defects = json.loads((shop.parent / "generated" / "defects.json").read_text())["expected_quarantine"]
    with duckdb.connect(str(duckdb_path), read_only=True) as connection:
        for table in ("items", "order_items"):
            assert dict(connection.sql(f"select quarantine_reason, count(*) from staging.base_shop__{table} "
                                       "where quarantine_reason is not null group by all").fetchall()) == defects[table]
        ids = connection.sql("select item_id from staging.base_shop__items where item_id is not null").fetchall()
    assert len(ids) > 20 and all(item.isdigit() for item, in ids)


def test_spark_reads_each_file_where_it_is_and_the_absent_tables_as_empty(both_engines, shop):
    _, warehouse = both_engines
    assert _raw_tables(warehouse) == {"users": f"{shop}/users.csv", "items": f"{shop}/items.parquet",
                      "orders": f"{shop}/orders.parquet", "order_items": f"{shop}/order_items.parquet",
                      "events": None, "reviews": None, "support_conversations": None}


def test_the_shops_own_tables_in_the_raw_schema_build_the_same_base_tables(both_engines, spark_demo):
    """LTV_RAW_SOURCE=warehouse on Spark: the same shop's tables put in the raw schema (spark_demo copies
    the files' tables there and drops the files build's base tables), all but users, give the base tables
    DuckDB builds from the files, row for row; the absent optional tables are read as empty there too.
    Without a users table the users are the ids the orders name (raw_contract's derived_from), without
    attributes, so the orders DuckDB quarantined as unknown_user are accepted, and nothing else changes."""
    duckdb_path, _ = both_engines
    warehouse = spark_demo / "raw_warehouse_build"
    assert_same_base_tables(duckdb_path, warehouse, tables=["items", "order_items"])
    assert _raw_tables(warehouse) == {**{table: f"raw.{table}" for table in RAW_FILES_BASE_TABLES if table != "users"},
                                      "users": None, "events": None, "reviews": None, "support_conversations": None}
    with duckdb.connect(str(duckdb_path), read_only=True) as connection:
        orders = connection.sql("select order_id, user_id, quarantine_reason from staging.base_shop__orders").fetchall()
    spark_orders = duckdb.sql(f"select order_id, user_id, quarantine_reason from "
                              f"{spark_parquet(warehouse, 'staging.db/base_shop__orders')}").fetchall()
    assert sorted(spark_orders, key=str) == sorted(
        [(order, user, None if reason == "unknown_user" else reason) for order, user, reason in orders], key=str)
    assert any(reason == "unknown_user" for *_, reason in orders)
    users = duckdb.sql(f"select user_id, signed_up_at, country, quarantine_reason from "
                       f"{spark_parquet(warehouse, 'staging.db/base_shop__users')}").fetchall()
    assert sorted(user for user, *_ in users) == sorted({user for _, user, _ in orders if user is not None})
    assert {tuple(rest) for _, *rest in users} == {(None, None, None)}
