"""The ways real exports write what the input contract means, read as they mean it: dates with the year
last (month or day first, two-digit years, AM/PM) or as digits, CSV separated by ';', tabs or '|', CSV in
Latin-1, and shop platforms' words for an order status or an add-to-cart event.

Every case here stopped the build or quarantined valid rows before. One staging build of one shop that
has them all (each raw table a few of them), then a second build with var ltv_source_date_order set."""

from __future__ import annotations

import shutil

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import NO_RUN_ARTIFACTS, build_warehouse

# Every staging model of the raw tables written below, without data tests (reviews all quarantined is
# one of the points).
STAGING_OF_THE_EXPORT = ["--select", *(f"+stg_shop__{table}" for table in (
    "users", "items", "orders", "order_items", "events", "reviews", "support_conversations")),
    "--exclude-resource-type", "test", "unit_test", *NO_RUN_ARTIFACTS]
# Words of shop platforms' order exports (Magento, WooCommerce, Shopify, Olist) for each contract status.
STATUS_SYNONYMS = {"completed": ["completed", "Complete", "delivered", "wc-completed", "fulfilled", "PAID"],
                   "cancelled": ["Canceled", " canceled ", "voided", "wc-cancelled"],
                   "returned": ["refunded", "wc-refunded", "Returned"]}
CART_SYNONYMS = ["addtocart", "Cart", "add-to-cart", "Add To Cart"]
COUNTRIES = ["Österreich", "東京", "España"]  # UTF-8, the second outside Latin-1
NOT_A_DATE = "19971340"
CUT_SHORT_ORDER = "O_CUT_SHORT"
# Two item prices written £1,234 and £2,500: a comma before three digits, in a table with no other sign
# of its decimal mark.
AMBIGUOUS_PRICES = [1234.0, 2500.0]
# users.csv's header as a spreadsheet writes it (after a byte-order mark): read as the contract's names.
HUMAN_HEADERS = {"user_id": "User ID", "signed_up_at": " Signed Up At ", "country": "Country"}


def write_export(small_shop, folder) -> dict:
    """small_shop as an export with every quirk, the raw frames as written (each table's timestamps as
    the true values, for comparing):
    users      ';'-separated UTF-8 CSV with a byte-order mark and the header "User ID; Signed Up At ;Country",
               sign-ups day first (31/12/2024 23:10:05), countries by name;
    items      '|'-separated Latin-1 CSV, titles with £ and accents, prices in whole pounds (£16), and two
               more items (nothing refers to them) priced £1,234 and £2,500: numbers that do not settle
               the decimal mark;
    order_items ';'-separated CSV, unit prices as European shops write them (1.234,50 € or 19,95);
    orders     CSV in UTF-16 (a spreadsheet's "Unicode text"), month first (12/31/2024 8:26, every other one
               12/31/24 08:26 PM) or with the month's name (Dec 31, 2024 8:26:00 PM; 31-Dec-2024 20:26), platform statuses, the first one 'processing' (in progress: no status
               of the contract), and a last row cut short after its user (CUT_SHORT_ORDER);
    events     tab-separated CSV, times as epoch-second digits, add-to-cart as four other names;
    reviews    CSV of the reviews written on days 1-12 only, month first without a time (03/04/2024):
               a column no value settles; rows end in CR LF and line breaks inside a comment are LF, as
               a spreadsheet writes them, and the file ends with a ^Z end-of-file mark;
    support    Parquet, a folder of two part files, opened as the integer 20240304, answered as the text
               20240304101500, one answer time that is no date."""
    shutil.copytree(small_shop, folder)
    written = {table: pd.read_parquet(folder / f"{table}.parquet")
               for table in ("users", "items", "orders", "events", "reviews", "support_conversations")}
    for table in written:
        (folder / f"{table}.parquet").unlink()

    users = written["users"]
    users["country"] = [COUNTRIES[position % len(COUNTRIES)] for position in range(len(users))]
    users.assign(signed_up_at=users.signed_up_at.dt.strftime("%d/%m/%Y %H:%M:%S")).rename(columns=HUMAN_HEADERS).to_csv(
        folder / "users.csv", sep=";", index=False, encoding="utf-8-sig")

    items = written["items"]
    items["title"] = [f"Crème brûlée set n° {position} £5" for position in range(len(items))]
    items["price"] = items.price.round()
    items = written["items"] = pd.concat([items, items.iloc[:2].assign(
        item_id=["I_AMBIGUOUS_1", "I_AMBIGUOUS_2"], price=AMBIGUOUS_PRICES)], ignore_index=True)
    items.assign(price=[f"£{price:,.0f}" for price in items.price]).to_csv(
        folder / "items.csv", sep="|", index=False, encoding="latin-1")

    lines = written["order_items"] = pd.read_parquet(folder / "order_items.parquet")
    (folder / "order_items.parquet").unlink()
    lines["unit_price"] = (lines.unit_price * 37).round(2)  # some above 1,000
    assert (lines.unit_price >= 1000).sum() > 10
    european = [f"{price:,.2f}".translate(str.maketrans(",.", ".,")) for price in lines.unit_price]
    lines.assign(unit_price=[text + " €" if position % 2 else text for position, text in enumerate(european)]).to_csv(
        folder / "order_items.csv", sep=";", index=False)

    orders = written["orders"]
    status_written = orders.status.copy()
    for status, words in STATUS_SYNONYMS.items():
        rows = orders.index[orders.status == status]
        assert len(rows) >= len(words), status
        status_written[rows] = [words[position % len(words)] for position in range(len(rows))]
    status_written.iloc[0] = "processing"
    time_written = [t.strftime("%b %-d, %Y %-I:%M:00 %p") if position % 5 == 1  # as Magento's order grid
                    else t.strftime("%d-%b-%Y %H:%M") if position % 5 == 3
                    else f"{t.month}/{t.day}/{t.year} {t.hour}:{t.minute:02d}" if position % 2
                    else t.strftime("%m/%d/%y %I:%M %p") for position, t in enumerate(orders.ordered_at)]
    as_written = orders.assign(status=status_written, ordered_at=time_written).to_csv(index=False)
    (folder / "orders.csv").write_text(as_written + f"{CUT_SHORT_ORDER},{orders.user_id.iloc[0]}\n", encoding="utf-16")

    events = written["events"]
    carts = events.index[events.event_type == "add_to_cart"]
    assert len(carts) >= len(CART_SYNONYMS)
    events.assign(
        event_type=events.event_type.where(events.event_type != "add_to_cart", pd.Series(
            [CART_SYNONYMS[position % len(CART_SYNONYMS)] for position in range(len(carts))], index=carts)),
        occurred_at=events.occurred_at.dt.as_unit("s").astype("int64").astype(str),
    ).to_csv(folder / "events.csv", sep="\t", index=False)

    reviews = written["reviews"] = written["reviews"][written["reviews"].created_at.dt.day <= 12]
    assert reviews.comment.str.contains("\n").any()
    (folder / "reviews.csv").write_text(reviews.assign(created_at=reviews.created_at.dt.strftime("%m/%d/%Y")).to_csv(
        index=False, lineterminator="\r\n") + "\x1a", newline="")

    support = written["support_conversations"]
    answered = support.first_response_at.dt.strftime("%Y%m%d%H%M%S")
    answered.iloc[0] = NOT_A_DATE
    # A folder of part files, as Spark or a data lake writes a table, with its job's _SUCCESS marker.
    parts = folder / "support_conversations.parquet"
    parts.mkdir()
    as_written = support.assign(opened_at=support.opened_at.dt.strftime("%Y%m%d").astype("int64"), first_response_at=answered)
    half = len(as_written) // 2
    as_written.iloc[:half].to_parquet(parts / "part-00000.parquet", index=False)
    as_written.iloc[half:].to_parquet(parts / "part-00001.parquet", index=False)
    (parts / "_SUCCESS").write_text("")
    return written


@pytest.fixture(scope="module")
def export_build(small_shop, tmp_path_factory):
    work = tmp_path_factory.mktemp("export")
    written = write_export(small_shop, work / "shop")
    warehouse, result = build_warehouse(work / "build", raw_dir=work / "shop", extra_arguments=STAGING_OF_THE_EXPORT)
    connection = duckdb.connect(str(warehouse), read_only=True)
    yield connection, written, result.stdout, work / "shop"
    connection.close()


def rows(connection, sql) -> dict:
    return dict(connection.sql(sql).fetchall())


def test_dates_written_year_last_read_in_the_order_their_column_settles(export_build):
    connection, written, log, _ = export_build
    assert "ltv: users.signed_up_at reads its slash dates day/month/year" in log
    assert "ltv: orders.ordered_at reads its slash dates month/day/year" in log
    users, orders = written["users"], written["orders"]
    assert (users.signed_up_at.dt.day > 12).any() and (orders.ordered_at.dt.day > 12).any()
    assert rows(connection, "select user_id, signed_up_at from staging.stg_shop__users") \
        == {row.user_id: row.signed_up_at.to_pydatetime() for row in users.itertuples()}
    # Every order to the minute, those written 08:26 PM with a two-digit year too.
    assert rows(connection, f"select order_id, ordered_at from staging.base_shop__orders where order_id != '{CUT_SHORT_ORDER}'") \
        == {row.order_id: row.ordered_at.floor("min").to_pydatetime() for row in orders.itertuples()}


def test_a_column_whose_values_do_not_settle_the_order_is_quarantined_and_the_log_names_the_var(export_build):
    connection, written, log, _ = export_build
    assert ("ltv: reviews.created_at has slash dates whose order its values do not settle (no number above 12): they "
            "are quarantined as invalid_timestamp; set var ltv_source_date_order to month_first or day_first") in log
    reviews = written["reviews"]
    assert rows(connection, "select quarantine_reason, count(*) from staging.base_shop__reviews group by all") \
        == {"invalid_timestamp": len(reviews), "missing_required": 1}  # (the ^Z line: see the next test)


def test_dates_written_as_digits_read_as_those_dates(export_build):
    connection, written, _, _ = export_build
    support = written["support_conversations"]
    read = connection.sql("select conversation_id, opened_at, first_response_at, quarantine_reason "
                          "from staging.base_shop__support_conversations").fetchall()
    expected = {row.conversation_id: (row.opened_at.normalize().to_pydatetime(), row.first_response_at.floor("s").to_pydatetime())
                for row in support.itertuples()}
    assert {conversation: (opened, answered) for conversation, opened, answered, _ in read} == {
        **expected, support.conversation_id.iloc[0]: (expected[support.conversation_id.iloc[0]][0], None)}
    assert [(conversation, reason) for conversation, *_, reason in read if reason] \
        == [(support.conversation_id.iloc[0], "invalid_timestamp")]
    # Epoch seconds (the events' times) still read as before.
    events = written["events"]
    assert rows(connection, "select event_id, occurred_at from staging.stg_shop__events") \
        == {row.event_id: row.occurred_at.floor("s").to_pydatetime() for row in events.itertuples()}


def test_csv_delimited_by_semicolons_tabs_or_bars_and_in_latin1_read_as_written(export_build):
    """The delimiter is the header line's (raw_data.sql: csv_format), never a column named
    'user_id;country'; the header's "User ID" is user_id; a file that is not UTF-8 is Latin-1 and the log
    says so; a UTF-8 one with letters outside Latin-1 stays UTF-8."""
    connection, written, log, shop = export_build
    assert f"ltv: raw file {shop}/items.csv is not UTF-8: read as Latin-1 (ISO-8859-1)" in log
    assert "users.csv is not UTF-8" not in log and "events.csv is not UTF-8" not in log
    users, items = written["users"], written["items"][:-2]  # (the last two: see the decimal mark's test)
    assert rows(connection, "select user_id, country from staging.stg_shop__users") \
        == dict(zip(users.user_id, users.country, strict=True))
    assert rows(connection, "select item_id, title from staging.stg_shop__items") \
        == dict(zip(items.item_id, items.title, strict=True))
    assert connection.sql("select count(*) from staging.stg_shop__events").fetchall() == [(len(written["events"]),)]


def test_numbers_read_by_their_tables_decimal_mark_with_currency_and_thousands(export_build):
    """Order lines written 1.234,50 € and 19,95 read as 1234.5 and 19.95 (a comma that ends a number with
    two decimals can only be a decimal comma; the log says so). The items' prices (£16) read without their
    currency sign, except £1,234 and £2,500: in a table whose numbers do not settle the mark they could
    be either, so they are quarantined, never guessed, and the log names the var. (The lines of the
    first order, which is in progress, wait for it: unknown_order.)"""
    connection, written, log, _ = export_build
    assert ("ltv: order_items (quantity, unit_price) reads its numbers with a decimal comma (a number like 19,95); "
            "var ltv_source_decimal_mark overrides") in log
    assert ("ltv: items (price) has numbers whose decimal mark its values do not settle (a comma before three digits, "
            "as in 1,234): numbers with a comma are quarantined as invalid_number; set var ltv_source_decimal_mark "
            "to point or comma") in log
    items, lines = written["items"], written["order_items"]
    assert rows(connection, "select item_id, price from staging.stg_shop__items") \
        == dict(zip(items.item_id[:-2], items.price[:-2], strict=True))
    assert rows(connection, "select item_id, quarantine_reason from staging.base_shop__items "
                            "where quarantine_reason is not null") == dict.fromkeys(items.item_id[-2:], "invalid_number")
    kept = lines[lines.order_id != written["orders"].order_id[0]]
    assert 0 < len(kept) < len(lines)
    assert rows(connection, "select order_id || item_id, unit_price from staging.stg_shop__order_items") \
        == pytest.approx(dict(zip(kept.order_id + kept.item_id, kept.unit_price, strict=True)), abs=1e-9)
    assert rows(connection, "select quarantine_reason, count(*) from staging.base_shop__order_items "
                            "where quarantine_reason is not null group by all") == {"unknown_order": len(lines) - len(kept)}


def test_spreadsheet_csv_line_ends_utf16_and_short_rows_read_as_rows(export_build):
    """Rows ending in CR LF with LF line breaks inside quoted comments read with the comments as written;
    orders.csv in UTF-16 reads (the log says so); a row cut short and a ^Z end-of-file mark are rows whose
    missing values are null, quarantined with a reason, not a reader error that stops the whole build."""
    connection, written, log, shop = export_build
    assert f"ltv: raw file {shop}/orders.csv is UTF-16 (it starts with a byte-order mark)" in log
    reviews = written["reviews"]
    assert rows(connection, "select review_id, comment from staging.base_shop__reviews where review_id != chr(26)") \
        == dict(zip(reviews.review_id, reviews.comment.replace({np.nan: None}), strict=True))
    assert connection.sql("select review_id, user_id, quarantine_reason from staging.base_shop__reviews "
                          "where quarantine_reason = 'missing_required'").fetchall() == [("\x1a", None, "missing_required")]
    assert connection.sql(f"select user_id, ordered_at, status, quarantine_reason from staging.base_shop__orders "
                          f"where order_id = '{CUT_SHORT_ORDER}'").fetchall() \
        == [(written["orders"].user_id.iloc[0], None, None, "missing_required")]


def test_other_words_for_a_status_or_event_type_read_as_the_contracts(export_build):
    """Shop platforms' order statuses and the add-to-cart names of public event logs, in any case: staged
    as the contract's value, not quarantined as invalid_enum; an order in progress still is."""
    connection, written, _, _ = export_build
    orders, events = written["orders"], written["events"]
    assert rows(connection, "select order_id, status from staging.stg_shop__orders") \
        == dict(zip(orders.order_id[1:], orders.status[1:], strict=True))
    assert rows(connection, "select order_id, quarantine_reason from staging.base_shop__orders "
                            "where quarantine_reason is not null") \
        == {orders.order_id[0]: "invalid_enum", CUT_SHORT_ORDER: "missing_required"}
    assert rows(connection, "select event_id, event_type from staging.stg_shop__events") \
        == dict(zip(events.event_id, events.event_type, strict=True))


def test_the_date_order_and_decimal_mark_vars_decide_for_every_column(small_shop, tmp_path):
    written = write_export(small_shop, tmp_path / "shop")
    warehouse, result = build_warehouse(tmp_path / "build", raw_dir=tmp_path / "shop", extra_arguments=[
        *STAGING_OF_THE_EXPORT, "--vars", "{ltv_source_date_order: month_first, ltv_source_decimal_mark: point}"])
    assert all(detected not in result.stdout for detected in (  # the vars said
        "reads its slash dates", "reads its numbers with", "decimal mark its values do not settle"))
    users, reviews, items = written["users"], written["reviews"], written["items"]
    connection = duckdb.connect(str(warehouse), read_only=True)
    try:
        # Sign-ups were written day first: read month first, a day above 12 is no month, and a day up to 12
        # swaps with the month (the var is obeyed, not second-guessed).
        impossible = users[users.signed_up_at.dt.day > 12]
        assert rows(connection, "select quarantine_reason, count(*) from staging.base_shop__users group by all") \
            == {None: len(users) - len(impossible), "invalid_timestamp": len(impossible)}
        swapped = users[users.signed_up_at.dt.day <= 12].iloc[0]
        assert connection.sql(f"select signed_up_at from staging.stg_shop__users where user_id = '{swapped.user_id}'") \
            .fetchall() == [(swapped.signed_up_at.replace(month=swapped.signed_up_at.day,
                                                          day=swapped.signed_up_at.month).to_pydatetime(),)]
        # Every review reads right; those of the users just quarantined wait for them (unknown_user).
        expected = {row.review_id: row.created_at.normalize().to_pydatetime() for row in reviews.itertuples()
                    if row.user_id not in set(impossible.user_id)}
        assert rows(connection, "select review_id, created_at from staging.stg_shop__reviews") == expected
        assert len(expected) > 0
        assert rows(connection, "select quarantine_reason, count(*) from staging.base_shop__reviews "
                                "where quarantine_reason is not null group by all") \
            == {"unknown_user": len(reviews) - len(expected), "missing_required": 1}  # (and the ^Z line)
        # Decimal point: £1,234 is 1234; the order lines' 19,95 and 1.234,50 € are no numbers.
        assert rows(connection, "select item_id, price from staging.stg_shop__items") \
            == dict(zip(items.item_id, items.price, strict=True))
        assert rows(connection, "select quarantine_reason, count(*) from staging.base_shop__order_items group by all") \
            == {"invalid_number": len(written["order_items"])}
    finally:
        connection.close()



def test_ids_written_as_floats_read_as_the_integers_they_are(small_shop, tmp_path):
    """pandas writes an integer id column with a gap as floats: users hold 10001, their orders '10001.0'
    (a CSV written from such a column) and their conversations 10001.0 (a DOUBLE Parquet column, NaN for
    the gap). Each reads as 10001, so no order or conversation loses its user; a NaN is no id
    (missing_required) and '10001.5' is not 10001 (unknown_user)."""
    shop = tmp_path / "shop"
    shutil.copytree(small_shop, shop)
    as_number = {user: 10_001 + position for position, user in
                 enumerate(pd.read_parquet(shop / "users.parquet").user_id.drop_duplicates())}
    users = pd.read_parquet(shop / "users.parquet")
    users.assign(user_id=users.user_id.map(as_number)).to_parquet(shop / "users.parquet", index=False)
    orders = pd.read_parquet(shop / "orders.parquet")
    float_ids = orders.user_id.map(as_number).astype(float)
    float_ids.iloc[0] = float_ids.iloc[0] + 0.5
    (shop / "orders.parquet").unlink()
    orders.assign(user_id=float_ids).to_csv(shop / "orders.csv", index=False)
    assert open(shop / "orders.csv").read().count(".0,") >= len(orders) - 1  # as pandas writes them
    support = pd.read_parquet(shop / "support_conversations.parquet")
    support_ids = support.user_id.map(as_number).astype(float)
    support_ids.iloc[0] = np.nan
    pq.write_table(pa.Table.from_pandas(support.assign(user_id=0.0), preserve_index=False).set_column(
        support.columns.get_loc("user_id"), "user_id", pa.array(support_ids.to_numpy(), from_pandas=False)),
        shop / "support_conversations.parquet")

    warehouse, _ = build_warehouse(tmp_path / "build", raw_dir=shop, extra_arguments=[
        "--select", "+stg_shop__orders", "+stg_shop__support_conversations",
        "--exclude-resource-type", "test", "unit_test", *NO_RUN_ARTIFACTS])
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        assert connection.sql("select typeof(user_id) from staging.base_shop__support_conversations limit 1") \
            .fetchall() == [("VARCHAR",)]
        assert rows(connection, "select order_id, user_id from staging.stg_shop__orders") \
            == {order: str(as_number[user]) for order, user in zip(orders.order_id[1:], orders.user_id[1:], strict=True)}
        assert rows(connection, "select order_id, quarantine_reason from staging.base_shop__orders "
                                "where quarantine_reason is not null") == {orders.order_id[0]: "unknown_user"}
        assert rows(connection, "select conversation_id, user_id from staging.stg_shop__support_conversations") \
            == {conversation: str(as_number[user]) for conversation, user
                in zip(support.conversation_id[1:], support.user_id[1:], strict=True)}
        assert rows(connection, "select conversation_id, quarantine_reason from staging.base_shop__support_conversations "
                                "where quarantine_reason is not null") == {support.conversation_id[0]: "missing_required"}
