"""Tests for the real-shaped synthetic shops (`ltv generate --shape NAME`).

Every property is computed from the written files, read back with pyarrow/pandas, and compared with
the aggregate profiles of the real exports (/work/shared/REAL-SHOPS.md, numbers repeated here) rather
than with the generator's own constants, so a wrong constant cannot hide behind itself.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from ltv.cli import main as cli_main
from ltv.shapes import SHAPES, generate_shaped_shop

N_USERS = 600
SEED = 11
CONTRACT = {
    "users": ["user_id", "signed_up_at", "country"],
    "items": ["item_id", "title", "category", "brand", "price", "description"],
    "orders": ["order_id", "user_id", "ordered_at", "status"],
    "order_items": ["order_id", "item_id", "quantity", "unit_price"],
    "events": ["event_id", "user_id", "item_id", "event_type", "occurred_at"],
    "reviews": ["review_id", "user_id", "item_id", "rating", "comment", "created_at"],
    "support_conversations": ["conversation_id", "user_id", "opened_at", "first_response_at", "message",
                              "satisfaction_rating"],
}
KEYS = {"users": ["user_id"], "items": ["item_id"], "orders": ["order_id"], "order_items": ["order_id", "item_id"],
        "events": ["event_id"], "reviews": ["review_id"], "support_conversations": ["conversation_id"]}
TIMESTAMP_COLUMNS = {"users": "signed_up_at", "orders": "ordered_at", "events": "occurred_at",
                     "reviews": "created_at"}
# Columns that may be null even when present (nullable in the contract).
NULLABLE = {("events", "item_id"), ("reviews", "comment"), ("items", "description"),
            ("support_conversations", "satisfaction_rating")}

EXPECTED_COLUMNS = {
    "orders-only": {"users": ["user_id", "signed_up_at", "country"], "items": ["item_id", "title", "category", "brand"],
                    "orders": CONTRACT["orders"], "order_items": CONTRACT["order_items"]},
    "retail": {"users": ["user_id", "signed_up_at"], "items": ["item_id", "title", "category", "price"],
               "orders": CONTRACT["orders"], "order_items": CONTRACT["order_items"]},
    "ratings": {"users": ["user_id", "signed_up_at", "country"], "items": ["item_id", "title", "category", "price"],
                "orders": CONTRACT["orders"], "order_items": CONTRACT["order_items"],
                "events": CONTRACT["events"], "reviews": CONTRACT["reviews"]},
    "fashion": {"users": ["user_id", "signed_up_at"], "items": ["item_id", "title", "category", "price"],
                "orders": CONTRACT["orders"], "order_items": CONTRACT["order_items"], "reviews": CONTRACT["reviews"]},
    "multilingual": {"users": ["user_id", "signed_up_at"], "items": ["item_id", "title", "category", "price"],
                     "orders": CONTRACT["orders"], "order_items": CONTRACT["order_items"], "reviews": CONTRACT["reviews"],
                     "support_conversations": CONTRACT["support_conversations"]},
}
WINDOWS = {  # [start, end) of every timestamp, from the real profiles
    "orders-only": ("1997-01-01", "1998-07-01"),
    "retail": ("2010-12-01", "2011-12-10"),
    "ratings": ("1997-09-20", "1998-04-23"),
    "fashion": ("2019-01-01", "2020-12-01"),
    "multilingual": ("2019-01-01", "2020-12-01"),
}


# --------------------------------------------------------------------------------------------------
# Reading the files back
# --------------------------------------------------------------------------------------------------


def present_files(directory: Path) -> set[str]:
    return {path.name for path in directory.iterdir() if path.stem in CONTRACT and path.suffix in (".parquet", ".csv")}


def read_shop(directory: Path) -> dict[str, pd.DataFrame]:
    frames = {}
    for name in present_files(directory):
        path = directory / name
        table = Path(name).stem
        if path.suffix == ".parquet":
            frames[table] = pq.read_table(path).to_pandas()
        else:
            frames[table] = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    return frames


def utc(values: pd.Series) -> pd.Series:
    """Any timestamp column as naive UTC: TIMESTAMP, naive text (= UTC) or text with an offset."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.astype("datetime64[us]")
    return pd.to_datetime(values, utc=True, format="ISO8601").dt.tz_convert(None).astype("datetime64[us]")


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """Values as Python objects of one kind per column, so Parquet and CSV copies compare equal."""
    out = {}
    for column in frame.columns:
        values = frame[column]
        if column.endswith("_at"):
            out[column] = utc(values).astype("int64").astype(object)
        elif column in ("quantity", "rating", "unit_price", "price", "satisfaction_rating"):
            out[column] = pd.to_numeric(values).astype(float).astype(object)
        else:
            out[column] = values.astype(object).where(values.notna(), None)
    return pd.DataFrame(out)


@pytest.fixture(scope="module")
def shops(tmp_path_factory) -> dict[str, tuple[Path, dict[str, pd.DataFrame]]]:
    root = tmp_path_factory.mktemp("shapes")
    result = {}
    for shape in SHAPES:
        counts = generate_shaped_shop(shape, N_USERS, root / shape, seed=SEED)
        frames = read_shop(root / shape)
        assert counts == {table: len(frame) for table, frame in frames.items()}
        result[shape] = (root / shape, frames)
    return result


def lines_per_order(frames) -> pd.Series:
    return frames["order_items"].groupby("order_id").size().reindex(frames["orders"]["order_id"], fill_value=0)


def orders_per_buyer(frames) -> pd.Series:
    return frames["orders"].groupby("user_id").size()


def top_share(item_ids: pd.Series, n_items: int, fraction: float = 0.01) -> float:
    counts = item_ids.value_counts()
    return counts.iloc[:max(1, round(n_items * fraction))].sum() / len(item_ids)


# --------------------------------------------------------------------------------------------------
# Every shape: files, columns, validity under the contract
# --------------------------------------------------------------------------------------------------


def test_shapes_are_the_four_profiles_and_multilingual():
    assert set(SHAPES) == {"orders-only", "retail", "ratings", "fashion", "multilingual"}
    assert all(isinstance(text, str) and text and "\n" not in text for text in SHAPES.values())


@pytest.mark.parametrize("shape", list(EXPECTED_COLUMNS))
def test_files_and_columns(shops, shape):
    directory, frames = shops[shape]
    expected = EXPECTED_COLUMNS[shape]
    assert present_files(directory) == {f"{table}.parquet" for table in expected}
    for table, columns in expected.items():
        assert list(frames[table].columns) == columns, table
    manifest = json.loads((directory / "shape.json").read_text())
    assert manifest["shape"] == shape and manifest["n_users"] == N_USERS and manifest["seed"] == SEED
    assert {table: entry["columns"] for table, entry in manifest["files"].items()} == expected
    assert {table: entry["rows"] for table, entry in manifest["files"].items()} == {t: len(f) for t, f in frames.items()}
    assert set(manifest["absent_tables"]) == set(CONTRACT) - set(expected)
    for table, absent in manifest["absent_columns"].items():
        assert set(absent) == set(CONTRACT[table]) - set(expected[table])


def assert_valid_shop(frames: dict[str, pd.DataFrame]) -> None:
    """Every row would be accepted: keys unique, references resolve, values in their domains."""
    for table, frame in frames.items():
        assert not frame.duplicated(KEYS[table]).any(), f"duplicate key in {table}"
        for column in frame.columns:
            if (table, column) not in NULLABLE:
                assert frame[column].notna().all(), f"null in {table}.{column}"
        if table in TIMESTAMP_COLUMNS and TIMESTAMP_COLUMNS[table] in frame:
            assert utc(frame[TIMESTAMP_COLUMNS[table]]).notna().all()
    users, items = set(frames["users"]["user_id"]), set(frames["items"]["item_id"])
    orders, lines = frames["orders"], frames["order_items"]
    assert set(orders["user_id"]) <= users
    assert set(lines["order_id"]) <= set(orders["order_id"]) and set(lines["item_id"]) <= items
    assert (lines_per_order(frames) >= 1).all(), "an order without lines"
    assert set(orders["status"]) <= {"completed", "cancelled", "returned"}
    quantity, unit_price = pd.to_numeric(lines["quantity"]), pd.to_numeric(lines["unit_price"])
    assert (quantity == quantity.round()).all() and (quantity > 0).all() and (unit_price >= 0).all()
    if "price" in frames["items"]:
        assert (pd.to_numeric(frames["items"]["price"]) > 0).all()
    for table in ("events", "reviews"):
        if table in frames:
            assert set(frames[table]["user_id"]) <= users
            assert set(frames[table]["item_id"].dropna()) <= items
    if "events" in frames:
        assert set(frames["events"]["event_type"]) <= {"view", "add_to_cart", "search", "login"}
    if "reviews" in frames:
        assert set(pd.to_numeric(frames["reviews"]["rating"])) <= {1, 2, 3, 4, 5}


def assert_signed_up_first(frames: dict[str, pd.DataFrame]) -> None:
    signed_up = utc(frames["users"]["signed_up_at"]).set_axis(frames["users"]["user_id"])
    for table in ("orders", "events", "reviews"):
        if table in frames and len(frames[table]):
            first = utc(frames[table][TIMESTAMP_COLUMNS[table]]).groupby(frames[table]["user_id"].values).min()
            assert (signed_up.reindex(first.index) <= first).all(), f"a user's {table} before they signed up"


@pytest.mark.parametrize("shape", list(EXPECTED_COLUMNS))
def test_valid_under_the_contract(shops, shape):
    _, frames = shops[shape]
    assert_valid_shop(frames)
    assert_signed_up_first(frames)


@pytest.mark.parametrize("shape", list(EXPECTED_COLUMNS))
def test_dates_within_the_profile_window(shops, shape):
    _, frames = shops[shape]
    start, end = (pd.Timestamp(moment) for moment in WINDOWS[shape])
    for table, column in TIMESTAMP_COLUMNS.items():
        if table in frames:
            moments = utc(frames[table][column])
            assert moments.min() >= start and moments.max() < end, f"{table}.{column} outside {start}..{end}"
    ordered = utc(frames["orders"]["ordered_at"])
    reach = pd.Timedelta(days=10 if shape != "ratings" else 45)  # the rare orders of the ratings shape
    assert ordered.min() < start + reach and ordered.max() >= end - 3 * reach


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("n_users", [1, 5])
def test_tiny_shops_are_valid(tmp_path, shape, n_users):
    counts = generate_shaped_shop(shape, n_users, tmp_path, seed=3)
    frames = read_shop(tmp_path)
    assert counts["users"] == n_users
    assert_valid_shop(frames)
    assert_signed_up_first(frames)


# --------------------------------------------------------------------------------------------------
# Each shape looks like its real profile
# --------------------------------------------------------------------------------------------------


def test_orders_only_profile(shops):
    _, frames = shops["orders-only"]
    per_buyer, lines = orders_per_buyer(frames), frames["order_items"]
    assert len(frames["items"]) == 1 and len(per_buyer) == N_USERS
    assert (per_buyer == 1).mean() == pytest.approx(0.51, abs=0.06)
    assert per_buyer.mean() == pytest.approx(2.9, abs=0.5)
    assert per_buyer.max() <= 60 * 2.9 and per_buyer.max() >= 8 * per_buyer.mean()
    assert (lines_per_order(frames) == 1).all() and (lines["quantity"] == 1).all()
    assert (frames["orders"]["status"] == "completed").all()
    zero = (lines["unit_price"] == 0).sum()
    assert 1 <= zero <= 0.005 * len(lines)
    p10, p50, p90 = lines.loc[lines["unit_price"] > 0, "unit_price"].quantile([0.1, 0.5, 0.9])
    assert p10 == pytest.approx(11.8, rel=0.2) and p50 == pytest.approx(26.7, rel=0.15)
    assert p90 == pytest.approx(73.4, rel=0.2)


def test_retail_profile(shops):
    _, frames = shops["retail"]
    orders, lines, per_buyer = frames["orders"], frames["order_items"], orders_per_buyer(frames)
    assert len(frames["items"]) / N_USERS == pytest.approx(0.84, abs=0.02)
    assert (per_buyer == 1).mean() == pytest.approx(0.30, abs=0.06)
    assert per_buyer.mean() == pytest.approx(5.1, abs=1.0)
    per_order = lines_per_order(frames)
    assert 12 <= per_order.mean() <= 40 and per_order.max() >= 100
    assert lines["quantity"].median() == pytest.approx(6, abs=2)
    assert 60 <= lines["quantity"].quantile(0.99) <= 260
    assert (orders["status"] == "cancelled").mean() == pytest.approx(0.16, abs=0.03)
    assert 0 < (orders["status"] == "returned").mean() < 0.03
    assert (orders["order_id"].str.startswith("C") == (orders["status"] == "cancelled")).all()
    zero = (lines["unit_price"] == 0).sum()
    assert 1 <= zero <= 0.001 * len(lines)
    p10, p50, p90 = lines.loc[lines["unit_price"] > 0, "unit_price"].quantile([0.1, 0.5, 0.9])
    assert p10 == pytest.approx(0.55, rel=0.25) and p50 == pytest.approx(1.95, rel=0.2)
    assert p90 == pytest.approx(6.75, rel=0.3)
    assert 0.05 <= top_share(lines["item_id"], len(frames["items"])) <= 0.2


def test_retail_text_timestamps_carry_uk_offsets(shops):
    directory, frames = shops["retail"]
    assert pq.read_schema(directory / "orders.parquet").field("ordered_at").type == "string"
    for table, column in (("orders", "ordered_at"), ("users", "signed_up_at")):
        text = frames[table][column]
        assert text.str.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}").all()
        offset = text.str[-6:]
        assert set(offset) == {"+00:00", "+01:00"}
        moment = utc(text)
        summer = (moment >= pd.Timestamp("2011-03-27 01:00")) & (moment < pd.Timestamp("2011-10-30 01:00"))
        assert ((offset == "+01:00") == summer).all(), "offset must be British summer time exactly"


def test_retail_huge_wholesale_line(tmp_path):
    generate_shaped_shop("retail", 1000, tmp_path, seed=SEED)
    lines = pq.read_table(tmp_path / "order_items.parquet").to_pandas()
    orders = pq.read_table(tmp_path / "orders.parquet").to_pandas()
    assert lines["quantity"].max() == 80_995
    huge_order = lines.loc[lines["quantity"].idxmax(), "order_id"]
    assert orders.set_index("order_id").loc[huge_order, "status"] == "completed"


def test_ratings_profile(shops):
    _, frames = shops["ratings"]
    reviews, events, lines = frames["reviews"], frames["events"], frames["order_items"]
    assert reviews["comment"].isna().all()
    assert not reviews.duplicated(["user_id", "item_id"]).any(), "a user rates an item once"
    share = reviews["rating"].value_counts(normalize=True).sort_index()
    assert share.to_numpy() == pytest.approx([0.05, 0.11, 0.27, 0.34, 0.21], abs=0.02)
    per_user = reviews.groupby("user_id").size()
    assert per_user.min() >= 20 and per_user.mean() == pytest.approx(80, abs=12)
    assert per_user.max() <= len(frames["items"]) and len(frames["items"]) / N_USERS == pytest.approx(1.78, abs=0.05)
    assert set(events["event_type"]) == {"view"}
    assert len(events) / len(reviews) == pytest.approx(2.0, abs=0.3)
    rated_at = reviews.set_index(["user_id", "item_id"])["created_at"]
    viewed = events.set_index(["user_id", "item_id"])["occurred_at"]
    assert (viewed <= rated_at.reindex(viewed.index)).all(), "a view of something never rated, or after the rating"
    buyers = frames["orders"]["user_id"].nunique() / N_USERS
    assert 0.05 <= buyers <= 0.15 and orders_per_buyer(frames).max() <= 3
    assert lines_per_order(frames).between(1, 2).all() and (lines["unit_price"] == 1.0).all()
    assert (frames["orders"]["status"] == "completed").all()
    bought = lines.merge(frames["orders"], on="order_id")[["user_id", "item_id"]]
    assert bought.set_index(["user_id", "item_id"]).index.isin(rated_at.index).all(), "buyers rated what they bought"


def sentiment(comment: str) -> int:
    text = comment.lower()
    good = ("love", "perfect", "gorgeous", "recommend!", "flattering", "lovely", "comfortable", "great")
    bad = ("disappoint", "cheap", "returning", "not recommend", "letdown", "going back", "terribl", "misleading")
    return sum(word in text for word in good) - sum(word in text for word in bad)


def test_fashion_profile(shops):
    _, frames = shops["fashion"]
    orders, lines, reviews = frames["orders"], frames["order_items"], frames["reviews"]
    assert len(orders) == N_USERS and (orders_per_buyer(frames) == 1).all() and (lines_per_order(frames) == 1).all()
    assert lines["unit_price"].nunique() == 1 and (lines["quantity"] == 1).all()
    assert len(frames["items"]) == max(20, round(0.05 * N_USERS))
    assert 0.15 <= top_share(lines["item_id"], len(frames["items"])) <= 0.4
    bought = lines.merge(orders, on="order_id").set_index("user_id")["item_id"]
    assert len(reviews) == N_USERS and reviews["user_id"].is_unique
    assert (reviews.set_index("user_id")["item_id"] == bought.reindex(reviews["user_id"])).all()
    reviewed_at = reviews.set_index("user_id")["created_at"]
    assert (reviewed_at >= orders.set_index("user_id")["ordered_at"].reindex(reviewed_at.index)).all()
    share = reviews["rating"].value_counts(normalize=True).sort_index()
    assert share.to_numpy() == pytest.approx([0.04, 0.07, 0.12, 0.22, 0.55], abs=0.05)
    length = reviews["comment"].str.len()
    assert length.mean() == pytest.approx(309, abs=40) and reviews["comment"].nunique() >= 0.98 * N_USERS
    tone = reviews["comment"].map(sentiment).groupby(reviews["rating"]).mean()
    assert tone[5] > tone[4] > tone[3] > tone[2] and tone[1] < 0 < tone[5]


# --------------------------------------------------------------------------------------------------
# Determinism, formats, the CLI
# --------------------------------------------------------------------------------------------------


def digests(directory: Path) -> dict[str, str]:
    return {name: hashlib.sha256((directory / name).read_bytes()).hexdigest() for name in sorted(present_files(directory))}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_same_seed_same_data_other_seed_other_data(tmp_path, shape):
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        generate_shaped_shop(shape, 300, tmp_path / name, seed=seed)
    first, again, other = (read_shop(tmp_path / name) for name in "abc")
    for table in first:
        pd.testing.assert_frame_equal(first[table], again[table])
    assert digests(tmp_path / "a") == digests(tmp_path / "b")
    assert any(not first[table].equals(other[table]) for table in first if table != "items" or shape != "orders-only")
    assert not first["orders"].equals(other["orders"])


@pytest.mark.parametrize("shape", list(SHAPES))
def test_csv_holds_the_same_data_as_parquet(shops, tmp_path, shape):
    directory, frames = shops[shape]
    generate_shaped_shop(shape, N_USERS, tmp_path, seed=SEED, file_format="csv")
    assert present_files(tmp_path) == {name.replace(".parquet", ".csv") for name in present_files(directory)}
    header = (tmp_path / "orders.csv").read_text().splitlines()[0]
    assert header.replace('"', "") == "order_id,user_id,ordered_at,status"
    csv_frames = read_shop(tmp_path)
    for table, frame in frames.items():
        pd.testing.assert_frame_equal(comparable(csv_frames[table]), comparable(frame), obj=table)
    if shape != "retail":
        assert csv_frames["orders"]["ordered_at"].str.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}").all()


def test_cli_generates_a_shape_and_refuses_demo_only_options(tmp_path, capsys):
    out = tmp_path / "retail"
    assert cli_main(["generate", "--shape", "retail", "--users", "200", "--seed", "4", "--out", str(out),
                     "--format", "csv"]) == 0
    assert "retail" in capsys.readouterr().out
    assert present_files(out) == {"users.csv", "items.csv", "orders.csv", "order_items.csv"}
    assert json.loads((out / "shape.json").read_text())["format"] == "csv"
    generate_shaped_shop("retail", 200, tmp_path / "api", seed=4, file_format="csv")
    pd.testing.assert_frame_equal(read_shop(out)["orders"], read_shop(tmp_path / "api")["orders"])
    for extra in (["--items", "50"], ["--dirty"]):
        with pytest.raises(SystemExit) as exit_info:
            cli_main(["generate", "--shape", "fashion", "--users", "10", "--out", str(tmp_path / "x"), *extra])
        assert exit_info.value.code == 2
        assert f"{extra[0]} apply only to --shape demo" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli_main(["generate", "--shape", "no-such-shape", "--users", "10", "--out", str(tmp_path / "x")])
    assert not (tmp_path / "x").exists()


def test_a_folder_holds_exactly_one_shop(tmp_path):
    """Files an earlier run left behind (other tables, the other format, defects.json) must not mix in."""
    for stale in ("events.parquet", "reviews.csv", "users.csv", "support_conversations.parquet", "defects.json"):
        (tmp_path / stale).write_text("stale")
    (tmp_path / "notes.txt").write_text("keep me")
    generate_shaped_shop("orders-only", 50, tmp_path, seed=1)
    assert {path.name for path in tmp_path.iterdir()} == {
        "users.parquet", "items.parquet", "orders.parquet", "order_items.parquet", "shape.json", "notes.txt"}
    # The demo run through the CLI drops the shaped run's shape.json, which would describe other data.
    assert cli_main(["generate", "--users", "30", "--seed", "1", "--out", str(tmp_path)]) == 0
    assert not (tmp_path / "shape.json").exists() and (tmp_path / "events.parquet").exists()


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown shape"):
        generate_shaped_shop("demo", 10, "/nonexistent/never")
    with pytest.raises(ValueError, match="n_users"):
        generate_shaped_shop("retail", 0, "/nonexistent/never")
    with pytest.raises(ValueError, match="file_format"):
        generate_shaped_shop("retail", 10, "/nonexistent/never", file_format="json")
