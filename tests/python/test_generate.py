"""Tests for the synthetic shop generator.

Every property is computed independently from the written files: the quarantine rules are
re-implemented here in pandas rather than imported, so that a bug in the generator's bookkeeping
cannot hide behind the same bug in the check.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from scipy.stats import spearmanr

from ltv import generate
from ltv.cli import main as cli_main

TABLES = ("users", "items", "orders", "order_items", "events", "reviews", "support_conversations")
EXPECTED_COLUMNS = {
    "users": ["user_id", "signed_up_at", "country"],
    "items": ["item_id", "title", "category", "brand", "price", "description"],
    "orders": ["order_id", "user_id", "ordered_at", "status"],
    "order_items": ["order_id", "item_id", "quantity", "unit_price"],
    "events": ["event_id", "user_id", "item_id", "event_type", "occurred_at"],
    "reviews": ["review_id", "user_id", "item_id", "rating", "comment", "created_at"],
    "support_conversations": ["conversation_id", "user_id", "opened_at", "first_response_at", "message",
                              "satisfaction_rating"],
}
KEYS = {
    "users": ["user_id"],
    "items": ["item_id"],
    "orders": ["order_id"],
    "order_items": ["order_id", "item_id"],
    "events": ["event_id"],
    "reviews": ["review_id"],
    "support_conversations": ["conversation_id"],
}
TIMESTAMP_COLUMNS = {
    "users": ["signed_up_at"],
    "orders": ["ordered_at"],
    "events": ["occurred_at"],
    "reviews": ["created_at"],
    "support_conversations": ["opened_at", "first_response_at"],
}
WINDOW_START = pd.Timestamp("2023-01-01")
WINDOW_END = pd.Timestamp("2026-01-01")
SEED = 7
N_USERS = 2500
N_ITEMS = 500


def read_parquet_tables(directory: Path) -> dict[str, pd.DataFrame]:
    return {table: pq.read_table(directory / f"{table}.parquet").to_pandas() for table in TABLES}


def read_csv_as_text(path: Path) -> pd.DataFrame:
    # Everything as text; only an empty field is null.
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])


def file_digests(directory: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(directory.iterdir())}


@pytest.fixture(scope="module")
def clean_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("clean")
    generate.generate_shop(N_USERS, directory, seed=SEED, n_items=N_ITEMS, chunk_users=1_000)
    return directory


@pytest.fixture(scope="module")
def clean(clean_dir) -> dict[str, pd.DataFrame]:
    return read_parquet_tables(clean_dir)


@pytest.fixture(scope="module")
def large(tmp_path_factory) -> dict[str, pd.DataFrame]:
    """Big enough for the behavioural signals (churn after bad experiences) to rise above noise."""
    directory = tmp_path_factory.mktemp("large")
    generate.generate_shop(20_000, directory, seed=3, n_items=1_000)
    return read_parquet_tables(directory)


# --------------------------------------------------------------------------------------------------
# Files, determinism, chunking
# --------------------------------------------------------------------------------------------------


def test_same_seed_gives_identical_bytes(clean_dir, tmp_path):
    generate.generate_shop(N_USERS, tmp_path, seed=SEED, n_items=N_ITEMS, chunk_users=1_000)
    assert file_digests(tmp_path) == file_digests(clean_dir)


def test_different_seed_gives_different_data(tmp_path):
    generate.generate_shop(300, tmp_path / "a", seed=1, n_items=N_ITEMS)
    generate.generate_shop(300, tmp_path / "b", seed=2, n_items=N_ITEMS)
    first, second = file_digests(tmp_path / "a"), file_digests(tmp_path / "b")
    assert all(first[name] != second[name] for name in first)


def test_chunk_size_changes_nothing_but_memory(clean, tmp_path):
    counts = generate.generate_shop(N_USERS, tmp_path, seed=SEED, n_items=N_ITEMS, chunk_users=100_000)
    one_chunk = read_parquet_tables(tmp_path)
    for table in TABLES:
        assert counts[table] == len(clean[table])
        pd.testing.assert_frame_equal(one_chunk[table], clean[table], obj=table)


def test_parquet_columns_and_types(clean_dir):
    for table in TABLES:
        schema = pq.read_schema(clean_dir / f"{table}.parquet")
        assert schema.names == EXPECTED_COLUMNS[table]
        for column in TIMESTAMP_COLUMNS.get(table, []):
            assert str(schema.field(column).type) == "timestamp[us]"
    assert str(pq.read_schema(clean_dir / "order_items.parquet").field("unit_price").type) == "double"
    assert str(pq.read_schema(clean_dir / "order_items.parquet").field("quantity").type) == "int64"
    assert str(pq.read_schema(clean_dir / "reviews.parquet").field("rating").type) == "int64"
    assert not (clean_dir / "defects.json").exists()
    assert sorted(path.name for path in clean_dir.iterdir()) == sorted(f"{table}.parquet" for table in TABLES)


def test_csv_holds_the_same_data_as_parquet(clean, tmp_path):
    generate.generate_shop(N_USERS, tmp_path, seed=SEED, n_items=N_ITEMS, file_format="csv")
    for table in TABLES:
        text = read_csv_as_text(tmp_path / f"{table}.csv")
        assert list(text.columns) == EXPECTED_COLUMNS[table]
        typed = clean[table]
        assert len(text) == len(typed)
        for column in EXPECTED_COLUMNS[table]:
            if column in TIMESTAMP_COLUMNS.get(table, []):
                assert text[column].str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d").all()
                parsed = pd.to_datetime(text[column], format="%Y-%m-%d %H:%M:%S")
                assert (parsed.to_numpy() == typed[column].to_numpy()).all(), column
            elif typed[column].dtype.kind in "if":
                assert np.allclose(pd.to_numeric(text[column]).fillna(-99), typed[column].fillna(-99)), column
            else:
                # A null and an empty comment both read back as NaN from CSV.
                assert (text[column].fillna("") == typed[column].fillna("")).all(), column


def test_csv_quotes_commas_quotes_and_newlines(tmp_path):
    generate.generate_shop(N_USERS, tmp_path, seed=SEED, n_items=N_ITEMS, file_format="csv")
    comments = read_csv_as_text(tmp_path / "reviews.csv")["comment"].dropna()
    messages = read_csv_as_text(tmp_path / "support_conversations.csv")["message"].dropna()
    assert comments.str.contains(",").any() and comments.str.contains('"').any()
    assert comments.str.contains("\n").any() and messages.str.contains("\n").any()


def test_cli_writes_files(tmp_path, capsys):
    assert cli_main(["generate", "--users", "200", "--out", str(tmp_path / "cli"), "--format", "csv", "--seed", "5"]) == 0
    output = capsys.readouterr().out
    assert "chunk 1/1" in output and "s]" in output
    assert sorted(path.name for path in (tmp_path / "cli").iterdir()) == sorted(f"{table}.csv" for table in TABLES)


# --------------------------------------------------------------------------------------------------
# Integrity of clean data
# --------------------------------------------------------------------------------------------------


def test_keys_unique_and_ids_formatted(clean):
    for table in TABLES:
        frame = clean[table]
        assert not frame.duplicated(subset=KEYS[table]).any(), table
        assert frame[EXPECTED_COLUMNS[table]].drop(columns=["item_id"] if table == "events" else [])\
            .drop(columns=[c for c in ("comment", "message", "satisfaction_rating") if c in frame]).notna().all().all(), table
    assert clean["users"].user_id.str.fullmatch(r"U\d{7}").all()
    assert clean["items"].item_id.str.fullmatch(r"I\d{5}").all()
    assert clean["orders"].order_id.str.fullmatch(r"O\d{8}").all()
    assert len(clean["users"]) == N_USERS and len(clean["items"]) == N_ITEMS


def test_referential_integrity(clean):
    users, items, orders = set(clean["users"].user_id), set(clean["items"].item_id), set(clean["orders"].order_id)
    for table in ("orders", "events", "reviews", "support_conversations"):
        assert clean[table].user_id.isin(users).all(), table
    assert clean["order_items"].order_id.isin(orders).all()
    assert orders == set(clean["order_items"].order_id), "every order has at least one line"
    for table in ("order_items", "reviews"):
        assert clean[table].item_id.isin(items).all(), table
    events = clean["events"]
    assert events.item_id.dropna().isin(items).all()
    assert events.loc[events.event_type.isin(["search", "login"]), "item_id"].isna().all()
    assert events.loc[events.event_type.isin(["view", "add_to_cart"]), "item_id"].notna().all()


def test_domains(clean):
    assert set(clean["orders"].status) == {"completed", "cancelled", "returned"}
    assert set(clean["events"].event_type) == {"view", "add_to_cart", "search", "login"}
    assert set(clean["reviews"].rating) == {1, 2, 3, 4, 5}
    satisfaction = clean["support_conversations"].satisfaction_rating.dropna()
    assert set(satisfaction) <= {1, 2, 3, 4, 5}
    assert (clean["order_items"].quantity >= 1).all()
    for table, column in (("items", "price"), ("order_items", "unit_price")):
        prices = clean[table][column]
        assert (prices > 0).all() and np.allclose(prices, prices.round(2)), table


def test_timestamps_inside_window_and_in_order(clean):
    for table, columns in TIMESTAMP_COLUMNS.items():
        for column in columns:
            values = clean[table][column]
            assert values.min() >= WINDOW_START and values.max() < WINDOW_END, (table, column)
    signed_up = clean["users"].set_index("user_id").signed_up_at
    for table, column in (("orders", "ordered_at"), ("events", "occurred_at"), ("support_conversations", "opened_at")):
        frame = clean[table]
        assert (frame[column] >= frame.user_id.map(signed_up)).all(), table
    support = clean["support_conversations"]
    assert (support.first_response_at >= support.opened_at).all()


def test_reviews_follow_a_purchase(clean):
    bought = clean["order_items"].merge(clean["orders"], on="order_id")
    first_bought = bought.groupby(["user_id", "item_id"]).ordered_at.min()
    reviews = clean["reviews"].set_index(["user_id", "item_id"])
    assert reviews.index.isin(first_bought.index).all()
    assert (reviews.created_at > first_bought.reindex(reviews.index)).all()
    assert not reviews.index.duplicated().any(), "one review per user and item"


# --------------------------------------------------------------------------------------------------
# Sizes and realism
# --------------------------------------------------------------------------------------------------


def test_sizes_scale_with_users(clean, large):
    for tables in (clean, large):
        n_users = len(tables["users"])
        n_lines = len(tables["order_items"])
        assert 8.5 <= n_lines / n_users <= 11.5
        assert 1.3 <= len(tables["events"]) / n_lines <= 1.7
        assert 0.75 <= len(tables["reviews"]) / n_users <= 1.25
        assert 0.15 <= len(tables["support_conversations"]) / n_users <= 0.28


def test_status_shares(large):
    shares = large["orders"].status.value_counts(normalize=True)
    assert 0.80 <= shares["completed"] <= 0.90
    assert 0.05 <= shares["cancelled"] <= 0.11
    assert 0.04 <= shares["returned"] <= 0.10


def test_returns_depend_on_category(large):
    lines = large["order_items"].merge(large["orders"], on="order_id").merge(large["items"], on="item_id")
    return_rate = lines.groupby("category").status.apply(lambda status: (status == "returned").mean())
    assert return_rate["Footwear"] > 2 * return_rate["Books"]
    assert return_rate["Apparel"] > return_rate["Beauty"]


def test_some_users_never_buy_and_some_only_browse(clean):
    buyers = set(clean["orders"].user_id)
    browsers = set(clean["events"].user_id)
    non_buyers = set(clean["users"].user_id) - buyers
    assert 0.1 <= len(non_buyers) / len(clean["users"]) <= 0.5
    assert len(non_buyers & browsers) > 0.05 * len(clean["users"])


def test_repeat_purchases_happen(clean):
    bought = clean["order_items"].merge(clean["orders"], on="order_id")
    orders_per_pair = bought.groupby(["user_id", "item_id"]).order_id.nunique()
    assert 0.01 <= (orders_per_pair > 1).mean() <= 0.3


def test_popularity_is_skewed(clean):
    counts = clean["order_items"].item_id.value_counts()
    top_tenth = counts.iloc[: len(clean["items"]) // 10].sum()
    assert top_tenth / counts.sum() > 0.4


def test_items_of_a_theme_are_bought_together(clean):
    # Themes are not in the output; they come from the catalogue of the same seed.
    theme = generate.build_catalogue(N_ITEMS, SEED).theme
    lines = clean["order_items"].assign(theme=lambda frame: theme[frame.item_id.str[1:].astype(int) - 1])
    pairs = lines.merge(lines, on="order_id")
    pairs = pairs[pairs.item_id_x < pairs.item_id_y]
    same_theme_in_orders = (pairs.theme_x == pairs.theme_y).mean()
    theme_share = lines.theme.value_counts(normalize=True)
    same_theme_by_chance = (theme_share**2).sum()
    assert same_theme_in_orders > 3 * same_theme_by_chance


def test_browsing_precedes_buying_and_tracks_purchase_rate(clean):
    events = clean["events"]
    views = events[events.event_type == "view"]
    lines = clean["order_items"].merge(clean["orders"], on="order_id")
    viewed_before = lines.merge(views, on=["user_id", "item_id"])
    viewed_before = viewed_before[viewed_before.occurred_at <= viewed_before.ordered_at]
    assert viewed_before.drop_duplicates(["order_id", "item_id"]).shape[0] > 0.5 * len(lines)
    per_user = pd.DataFrame({
        "events": events.groupby("user_id").size(),
        "lines": lines.groupby("user_id").size(),
    }).fillna(0)
    assert spearmanr(per_user.events, per_user.lines).statistic > 0.5


def test_review_text_follows_rating(clean):
    reviews = clean["reviews"]
    comments = reviews.comment.fillna("")
    negative = reviews.loc[comments.str.contains(r"\b(?:terrible|awful)\b", case=False), "rating"]
    positive = reviews.loc[comments.str.contains(r"\b(?:love|excellent)\b", case=False), "rating"]
    assert len(negative) > 10 and len(positive) > 10
    assert negative.mean() + 2 < positive.mean()
    # Three-star reviews are mixed: praise and complaint in one comment.
    three = comments[reviews.rating == 3]
    mixed = three.str.contains(r"\b(?:but|however|that said|downside|unfortunately|to be fair|only positive)\b", case=False)
    assert mixed.mean() > 0.5
    assert comments.str.contains(r"\b(?:not bad|wasn't worth it|never again|can't fault)\b", case=False).any()


def test_review_text_shape(clean):
    comments = clean["reviews"].comment
    assert 0.02 <= comments.isna().mean() <= 0.09
    texts = comments.dropna()
    lengths = texts.str.len()
    assert 230 <= lengths.mean() <= 320
    assert lengths.between(80, 400).mean() > 0.9
    assert texts.nunique() / len(texts) > 0.95
    assert texts.str.contains(r"\d").mean() > 0.5, "numbers (sizes, prices, days) make texts differ"
    assert texts.map(str.isascii).all()


def test_review_texts_mostly_unique_at_100k():
    catalogue = generate.build_catalogue(2_000, SEED)
    rng = np.random.default_rng(1)
    comments = generate.compose_review_comments(rng, rng.integers(1, 6, 100_000), rng.integers(0, 2_000, 100_000), catalogue)
    texts = [text for text in comments if text]
    assert len(set(texts)) / len(texts) >= 0.9


EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(r"\+\d[\d ()-]{8,}\d|\(0\d{2}\) \d{4} \d{4}|\b07\d{3} \d{6}\b")
CARD = re.compile(r"\b\d{4}[ -]?\d{4}[ -]?\d{4}[ -]?\d{4}\b")


def has_personal_data(texts: pd.Series) -> pd.Series:
    texts = texts.fillna("")
    return texts.str.contains(EMAIL) | texts.str.contains(PHONE) | texts.str.contains(CARD)


def test_personal_data_and_ordinary_numbers(large):
    messages = large["support_conversations"].message
    comments = large["reviews"].comment
    assert 0.01 <= has_personal_data(messages).mean() <= 0.035
    assert 0.004 <= has_personal_data(comments).mean() <= 0.02
    assert messages.str.contains(r"\bO\d{8}\b", na=False).mean() > 0.3, "order numbers are not personal data"
    assert comments.str.contains(r"\$\d+\.\d\d", na=False).any()


def test_support_satisfaction_falls_with_response_time_and_anger(large):
    support = large["support_conversations"]
    assert 0.3 <= support.satisfaction_rating.isna().mean() <= 0.5
    rated = support.dropna(subset=["satisfaction_rating"])
    hours = (rated.first_response_at - rated.opened_at).dt.total_seconds() / 3600
    assert spearmanr(rated.satisfaction_rating, hours).statistic < -0.2
    all_hours = (support.first_response_at - support.opened_at).dt.total_seconds() / 3600
    assert all_hours.quantile(0.05) < 0.5 and all_hours.quantile(0.99) > 24, "minutes to days"
    angry = rated.message.str.contains(r"furious|ridiculous|unacceptable|NOW|worst service", na=False)
    assert rated.loc[angry, "satisfaction_rating"].mean() < rated.loc[~angry, "satisfaction_rating"].mean() - 0.3


def test_bad_experiences_predict_less_future_value(large):
    orders = large["orders"]

    def later_orders(events: pd.DataFrame, time_column: str) -> pd.Series:
        first = events.sort_values(time_column).groupby("user_id").first()
        joined = orders.merge(first[[time_column]], left_on="user_id", right_index=True)
        return joined[joined.ordered_at > joined[time_column]].groupby("user_id").size().reindex(first.index).fillna(0)

    first_review = large["reviews"].sort_values("created_at").groupby("user_id").first()
    after_review = later_orders(large["reviews"], "created_at")
    assert after_review[first_review.rating <= 2].mean() < 0.85 * after_review[first_review.rating >= 4].mean()

    support = large["support_conversations"]
    first_contact = support.sort_values("opened_at").groupby("user_id").first()
    slow = (first_contact.first_response_at - first_contact.opened_at) > pd.Timedelta(days=1)
    after_contact = later_orders(support, "opened_at")
    assert after_contact[slow].mean() < 0.85 * after_contact[~slow].mean()


# --------------------------------------------------------------------------------------------------
# Dirty mode: the quarantine rules, re-implemented independently
# --------------------------------------------------------------------------------------------------

OPTIONAL = {("users", "signed_up_at"), ("users", "country"), ("items", "title"), ("items", "category"),
            ("items", "brand"), ("items", "price"), ("items", "description"), ("events", "item_id"),
            ("reviews", "comment"), ("support_conversations", "message"), ("support_conversations", "satisfaction_rating")}
NUMBER_COLUMNS = {"items": ["price"], "order_items": ["quantity", "unit_price"]}
RATING_COLUMNS = {"reviews": ["rating"], "support_conversations": ["satisfaction_rating"]}
ENUMS = {"orders": ("status", {"completed", "cancelled", "returned"}),
         "events": ("event_type", {"view", "add_to_cart", "search", "login"})}
PRICE_COLUMNS = {"items": ["price"], "order_items": ["unit_price"]}


def derive_quarantine(frames: dict[str, pd.DataFrame]) -> dict[str, pd.Series]:
    """The reason each row is rejected for (None if accepted), first applicable reason wins."""
    accepted: dict[str, set] = {}
    reasons: dict[str, pd.Series] = {}
    for table in TABLES:  # parents before children
        frame = frames[table]
        reason = pd.Series(None, index=frame.index, dtype=object)

        def flag(mask, name, reason=reason):
            reason[mask & reason.isna()] = name

        required = [column for column in EXPECTED_COLUMNS[table] if (table, column) not in OPTIONAL]
        flag(frame[required].isna().any(axis=1), "missing_required")
        numbers = {column: pd.to_numeric(frame[column], errors="coerce") for column in NUMBER_COLUMNS.get(table, [])}
        flag(np.logical_or.reduce([numbers[c].isna() & frame[c].notna() for c in numbers] + [np.zeros(len(frame), bool)]),
             "invalid_number")
        stamps = {column: pd.to_datetime(frame[column], format="%Y-%m-%d %H:%M:%S", errors="coerce")
                  for column in TIMESTAMP_COLUMNS.get(table, [])}
        flag(np.logical_or.reduce([stamps[c].isna() & frame[c].notna() for c in stamps] + [np.zeros(len(frame), bool)]),
             "invalid_timestamp")
        for column in RATING_COLUMNS.get(table, []):
            value = pd.to_numeric(frame[column], errors="coerce")
            flag(frame[column].notna() & ~value.isin([1, 2, 3, 4, 5]), "invalid_rating")
        if table in ENUMS:
            column, allowed = ENUMS[table]
            flag(~frame[column].isin(allowed), "invalid_enum")
        if "quantity" in numbers:
            flag(numbers["quantity"] <= 0, "non_positive_quantity")
        for column in PRICE_COLUMNS.get(table, []):
            flag(numbers[column] < 0, "negative_price")
        for values in stamps.values():
            latest = pd.Timestamp.now(tz="UTC").tz_localize(None) + pd.Timedelta(days=1)
            flag((values < pd.Timestamp("1980-01-01")) | (values >= latest), "timestamp_out_of_range")
        if table == "support_conversations":
            flag(stamps["first_response_at"] < stamps["opened_at"], "response_before_open")
        if "user_id" in frame and table != "users":
            flag(~frame.user_id.isin(accepted["users"]), "unknown_user")
        if "item_id" in frame and table != "items":
            flag(frame.item_id.notna() & ~frame.item_id.isin(accepted["items"]), "unknown_item")
        if table == "order_items":
            flag(~frame.order_id.isin(accepted["orders"]), "unknown_order")
        # Duplicates are judged among the rows that passed every other check.
        survivors = frame[reason.isna()]
        flag(survivors.duplicated(keep="first").reindex(frame.index, fill_value=False), "duplicate")
        survivors = frame[reason.isna()]
        flag(survivors.duplicated(subset=KEYS[table], keep="first").reindex(frame.index, fill_value=False), "duplicate_key")
        reasons[table] = reason
        if table in ("users", "items", "orders"):
            accepted[table] = set(frame.loc[reason.isna(), KEYS[table][0]])
    return reasons


def read_dirty(directory: Path, file_format: str) -> dict[str, pd.DataFrame]:
    if file_format == "csv":
        return {table: read_csv_as_text(directory / f"{table}.csv") for table in TABLES}
    return {table: pq.read_table(directory / f"{table}.parquet").to_pandas() for table in TABLES}


def dirty_run(tmp_path_factory, file_format: str, n_users: int) -> dict:
    directory = tmp_path_factory.mktemp(f"dirty_{file_format}")
    counts = generate.generate_shop(n_users, directory, seed=11, n_items=N_ITEMS, file_format=file_format, dirty=True)
    manifest = json.loads((directory / "defects.json").read_text())
    return {"format": file_format, "dir": directory, "counts": counts, "manifest": manifest,
            "frames": read_dirty(directory, file_format), "n_users": n_users}


@pytest.fixture(scope="module")
def dirty_csv(tmp_path_factory) -> dict:
    return dirty_run(tmp_path_factory, "csv", 3_000)


@pytest.fixture(scope="module")
def dirty_parquet(tmp_path_factory) -> dict:
    return dirty_run(tmp_path_factory, "parquet", 2_000)


@pytest.fixture(params=["dirty_csv", "dirty_parquet"])
def dirty(request) -> dict:
    return request.getfixturevalue(request.param)


def test_dirty_quarantine_counts_match_manifest(dirty):
    reasons = derive_quarantine(dirty["frames"])
    expected = dirty["manifest"]["expected_quarantine"]
    for table in TABLES:
        derived = reasons[table].value_counts().to_dict()
        planned = {reason: count for reason, count in expected[table].items() if count}
        assert derived == planned, table
        assert len(dirty["frames"][table]) == dirty["counts"][table]
        assert dirty["counts"][table] == dirty["manifest"]["clean_rows"][table] + sum(expected[table].values()), table


def test_dirty_mode_covers_every_reason(dirty):
    expected = dirty["manifest"]["expected_quarantine"]
    covered = {reason for table in expected.values() for reason, count in table.items() if count}
    assert covered == {
        "missing_required", "invalid_number", "invalid_timestamp", "invalid_rating", "invalid_enum",
        "non_positive_quantity", "negative_price", "timestamp_out_of_range", "response_before_open",
        "unknown_user", "unknown_item", "unknown_order", "duplicate", "duplicate_key",
    }
    for table, reasons in expected.items():
        rows = dirty["counts"][table]
        for reason, count in reasons.items():
            assert 0 < count <= 0.02 * rows + 5, (table, reason)


def test_dirty_parents_keep_all_clean_rows(dirty):
    # Defective users, items and orders are extra rows, so all generated ones are still accepted.
    clean_rows = dirty["manifest"]["clean_rows"]
    assert clean_rows["users"] == dirty["n_users"]
    assert clean_rows["items"] == N_ITEMS


def test_dirty_text_defects(dirty_parquet):
    # On Parquet, where an empty text and a null differ (CSV readers turn both into null).
    dirty = dirty_parquet
    emoji = re.compile("[\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff]")
    html = re.compile(r"<\s*/?\s*[a-zA-Z]+[^>]*>")
    for table, column in (("reviews", "comment"), ("support_conversations", "message")):
        texts = dirty["frames"][table][column].dropna()
        kinds = {
            "empty": (texts == "").sum(),
            "whitespace_only": ((texts != "") & (texts.str.strip() == "")).sum(),
            "very_long": (texts.str.len() >= 100_000).sum(),
            "html": texts.str.contains(html).sum(),
            "emoji": texts.str.contains(emoji).sum(),
            "non_english": (~texts.map(str.isascii) & ~texts.str.contains(emoji)).sum(),
        }
        assert {kind: int(count) for kind, count in kinds.items()} == dirty["manifest"]["text_defects"][table], table


def test_non_english_texts_are_recognisable():
    # The English banks are pure ASCII; every foreign text has a non-ASCII letter to tell them apart.
    for text in generate.NON_ENGLISH_POSITIVE + generate.NON_ENGLISH_NEGATIVE + generate.NON_ENGLISH_SUPPORT:
        assert not text.isascii(), text


def test_dirty_parquet_columns_are_text(dirty_parquet):
    dirty = dirty_parquet
    for table in TABLES:
        schema = pq.read_schema(dirty["dir"] / f"{table}.parquet")
        assert schema.names == EXPECTED_COLUMNS[table]
        assert {str(field.type) for field in schema} == {"string"}


def test_clean_run_removes_stale_manifest(tmp_path):
    generate.generate_shop(200, tmp_path, seed=1, dirty=True)
    assert (tmp_path / "defects.json").exists()
    generate.generate_shop(200, tmp_path, seed=1)
    assert not (tmp_path / "defects.json").exists()


def test_tiny_dirty_run_still_counts_exactly(tmp_path):
    # Blocks this small run out of rows to spoil; the manifest must still match what was written.
    counts = generate.generate_shop(30, tmp_path, seed=4, n_items=60, dirty=True, file_format="csv")
    manifest = json.loads((tmp_path / "defects.json").read_text())
    reasons = derive_quarantine(read_dirty(tmp_path, "csv"))
    for table in TABLES:
        planned = {reason: count for reason, count in manifest["expected_quarantine"][table].items() if count}
        assert reasons[table].value_counts().to_dict() == planned, table
        assert counts[table] == manifest["clean_rows"][table] + sum(manifest["expected_quarantine"][table].values())


def test_single_user_and_bad_arguments(tmp_path):
    counts = generate.generate_shop(1, tmp_path, seed=1, n_items=20)
    assert counts["users"] == 1 and counts["items"] == 20
    with pytest.raises(ValueError):
        generate.generate_shop(10, tmp_path, n_items=5)
    with pytest.raises(ValueError):
        generate.generate_shop(10, tmp_path, file_format="json")
    with pytest.raises(ValueError):
        generate.generate_shop(0, tmp_path)
