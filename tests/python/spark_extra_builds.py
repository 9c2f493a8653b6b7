"""The two other Spark builds that conftest's spark_demo runs in the process of the demo's Spark build
(spark_steps.py), so that one JVM serves all three:

* a shop's raw files (test_spark_raw_files.py): the base tables of a small dirty shop, users as CSV and
  the rest as Parquet (LTV_RAW_DIR), built before the demo (the demo build then rebuilds its own base
  tables from the seeds) and copied aside; then the same shop as the shop's own tables in the raw schema
  (LTV_RAW_SOURCE=warehouse: tables copied from the files), built and copied aside too, and the tables
  dropped again, so that the demo's seeds load as into a fresh warehouse;
* a throw-away dbt project (test_spark_target.py) with two seeds and two Python models, one returning a
  Spark DataFrame and one a pandas frame (as ltv's models do), built after the demo into a schema of its
  own (main_probe). Its second seed holds the texts dbt-spark's own seed loading mangles
  (macros/spark/spark_seeds.sql)."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]

PROBE_SCHEMA = "main_probe"

# What the base tables of the four required raw tables need, and nothing downstream of them.
RAW_FILES_SELECTION = ["-s", "base_shop__raw_tables", "base_shop__users", "base_shop__items", "base_shop__orders",
                       "base_shop__order_items", "--indirect-selection", "cautious"]
RAW_FILES_BASE_TABLES = ["users", "items", "orders", "order_items"]
# The folders of the raw-files build's tables under its Spark warehouse, copied aside before the demo build.
RAW_FILES_FOLDERS = ["staging.db/base_shop__raw_tables",
                     *(f"staging.db/base_shop__{table}" for table in RAW_FILES_BASE_TABLES)]




# The table the warehouse-mode shop does not have (no customer table: its users are derived from the ids
# its orders name, raw_contract's derived_from).
WAREHOUSE_WITHOUT = "users"


def raw_tables_from_the_files() -> list[str]:
    """Spark SQL putting the files' tables (as the raw-files build registered them) into the raw schema
    as tables of the warehouse's own, all but WAREHOUSE_WITHOUT: the shop that keeps its raw tables in the
    warehouse. The raw-files build's base tables are dropped, so the next build cannot keep them as they
    are (same rows)."""
    return ["create schema if not exists raw",
            *(f"create table raw.{table} using parquet as select * from raw_files.{table}" for table in RAW_FILES_BASE_TABLES
              if table != WAREHOUSE_WITHOUT),
            *(f"drop table {folder.replace('.db/', '.')}" for folder in RAW_FILES_FOLDERS)]


def drop_raw_tables() -> list[str]:
    return [f"drop table raw.{table}" for table in RAW_FILES_BASE_TABLES if table != WAREHOUSE_WITHOUT]


def write_raw_files_shop(shop: Path) -> None:
    """The four required tables of a small generated shop (with dirty rows): users as a Latin-1 CSV
    separated by ';' with the header "User ID;Signed Up At;Country" and some countries named with letters outside ASCII (csv_format finds both on both
    engines), its sign-up dates written day first with the year last
    (31/12/2023 18:11:56, or 31/12/23 06:11:56 PM: slash_date_orders detects the order on both engines;
    some followed by ' +0100', ' Europe/Paris' or ' UTC', some with the month's name),
    rows ending in CR LF and the last cut short after its id, the others as Parquet (orders a folder of
    two part files), item ids written as numbers (floats in items, '12.0' or '12' in order lines)."""
    import duckdb

    from ltv.generate import generate_shop

    generated = shop.parent / "generated"
    generate_shop(150, generated, seed=5, file_format="parquet", n_items=40, dirty=True)
    shop.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as connection:
        # Users with an even last digit as US-style exports write a time (04/02/25 05:43:01 PM); the
        # dirty rows (not a date, out of range) keep four digits, so their verdicts stay the injected ones.
        # Ids ending in 7 or 9: the month's name (01-Mar-2024 10:00:00, Mar 01, 2024 10:00:00 AM).
        day_first = (r"case when try_cast(signed_up_at as timestamp) between '1980-01-01' and '2060-01-01' "
                     r"and right(user_id, 1) in ('0', '2', '4', '6', '8') "
                     r"then strftime(try_cast(signed_up_at as timestamp), '%d/%m/%y %I:%M:%S %p') "
                     r"when try_cast(signed_up_at as timestamp) between '1980-01-01' and '2060-01-01' "
                     r"and right(user_id, 1) = '7' then strftime(try_cast(signed_up_at as timestamp), '%d-%b-%Y %H:%M:%S') "
                     r"when try_cast(signed_up_at as timestamp) between '1980-01-01' and '2060-01-01' "
                     r"and right(user_id, 1) = '9' then strftime(try_cast(signed_up_at as timestamp), '%b %d, %Y %I:%M:%S %p') "
                     r"else regexp_replace(signed_up_at, '^([0-9]{4})-([0-9]{2})-([0-9]{2})', '\3/\2/\1') end as signed_up_at")
        # Countries by name, some with letters outside ASCII, and the file in Latin-1 (csv_format).
        country = "case country when 'ES' then 'España' when 'IE' then 'Éire' else country end as country"
        # Some valid times with a zone as exports write them: an offset after a space (Shopify), UTC, an IANA name.
        zone = (r"case when try_cast(signed_up_at as timestamp) between '1980-01-01' and '2060-01-01' "
                r"then case right(user_id, 1) when '1' then ' +0100' when '3' then ' Europe/Paris' when '5' then ' UTC' "
                r"else '' end else '' end")
        day_first = day_first.replace(" end as signed_up_at", f" end || {zone} as signed_up_at")
        connection.execute(f"copy (select * replace ({day_first}, {country}) from '{generated}/users.parquet') "
                           f"to '{shop}/users.utf8' (header, delimiter ';', format csv)")
        header, rows = (shop / "users.utf8").read_text(encoding="utf-8").split("\n", 1)
        assert header == "user_id;signed_up_at;country"
        # Rows end in CR LF, as a spreadsheet writes them, and the last is cut short after its id: a user
        # without the optional sign-up date and country (both engines pad it with nulls).
        (shop / "users.csv").write_bytes(("User ID;Signed Up At;Country\n" + rows + "U_CUT_SHORT\n")
                                         .replace("\n", "\r\n").encode("latin-1"))
        (shop / "users.utf8").unlink()
        # Item ids as a pandas export writes an integer id column with a gap: floats in items (a DOUBLE
        # column) and, in the order lines, text '12.0' or '12' (id_as_text reads all three as 12).
        number = "cast(substr(item_id, 2) as int)"
        connection.execute(f"copy (select * replace (cast({number} as double) as item_id) "
                           f"from '{generated}/items.parquet') to '{shop}/items.parquet'")
        connection.execute(f"copy (select * replace (case when right(order_id, 1) in ('0', '2', '4', '6', '8') "
                           f"then cast({number} as varchar) || '.0' else cast({number} as varchar) end as item_id) "
                           f"from '{generated}/order_items.parquet') to '{shop}/order_items.parquet'")
        # Orders as a folder of part files, as Spark writes a table.
        (shop / "orders.parquet").mkdir()
        for part, half in enumerate(("order_id < 'O00000300'", "order_id >= 'O00000300' or order_id is null")):
            connection.execute(f"copy (select * from '{generated}/orders.parquet' where {half}) "
                               f"to '{shop}/orders.parquet/part-0000{part}.parquet'")

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
        models: {+file_format: parquet, +schema: probe}
        seeds:
          +file_format: parquet
          +schema: probe
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
