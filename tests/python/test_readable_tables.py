"""Readable public tables (issue 19 item 3): dim_items, item titles beside the served recommendations,
one name per figure, a method on every registry run.

One build of a generated shop whose catalogue is as thin as real exports get: no brand or price
column at all, every third item without a title or category, and one item nobody ordered. The expected values are computed
here from the raw files with pandas, not read back from the warehouse's own intermediate tables.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from conftest import build_warehouse

from ltv.registry import record_run


@pytest.fixture(scope="module")
def thin_catalogue_shop(small_shop, tmp_path_factory):
    folder = tmp_path_factory.mktemp("thin_catalogue_shop")
    for path in small_shop.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    items = pd.read_parquet(small_shop / "items.parquet")[["item_id", "title", "category"]]
    untitled = items.index % 3 == 0
    items.loc[untitled, ["title", "category"]] = None
    # An item in the catalogue that nobody ever ordered.
    items = pd.concat([items, pd.DataFrame({"item_id": ["I99999"], "title": ["Never sold"], "category": ["Misc"]})],
                      ignore_index=True)
    items.to_parquet(folder / "items.parquet", index=False)
    return folder


@pytest.fixture(scope="module")
def warehouse(thin_catalogue_shop, tmp_path_factory):
    warehouse_path, _ = build_warehouse(tmp_path_factory.mktemp("readable_build"), raw_dir=thin_catalogue_shop)
    connection = duckdb.connect(str(warehouse_path), read_only=True)
    yield connection
    connection.close()


def expected_buyers(shop) -> pd.Series:
    orders = pd.read_parquet(shop / "orders.parquet")
    lines = pd.read_parquet(shop / "order_items.parquet")
    completed = lines.merge(orders.loc[orders["status"] == "completed", ["order_id", "user_id"]], on="order_id")
    return completed.groupby("item_id")["user_id"].nunique()


def test_dim_items_holds_every_item_with_its_attributes_and_distinct_completed_buyers(warehouse, thin_catalogue_shop):
    items = pd.read_parquet(thin_catalogue_shop / "items.parquet").set_index("item_id").sort_index()
    dim_items = warehouse.sql("select * from dim_items order by item_id").df().set_index("item_id")
    assert list(dim_items.columns) == ["title", "category", "brand", "price", "buyers"]
    assert list(dim_items.index) == list(items.index)
    # Absent optional columns are NULL, never invented; missing titles stay missing.
    assert dim_items["brand"].isna().all() and dim_items["price"].isna().all()
    pd.testing.assert_series_equal(dim_items["title"], items["title"], check_dtype=False)
    assert dim_items["title"].isna().sum() == 40 and dim_items["category"].isna().sum() == 40
    buyers = expected_buyers(thin_catalogue_shop).reindex(items.index, fill_value=0)
    assert dim_items["buyers"].astype(int).to_dict() == buyers.astype(int).to_dict()
    assert dim_items.loc["I99999", "buyers"] == 0  # nobody bought it: 0, not NULL


def test_served_recommendations_carry_title_and_category_of_the_recommended_item(warehouse, thin_catalogue_shop):
    champion = warehouse.sql("select model_version from fct_recommendation_versions where is_champion").fetchall()[0][0]
    served = warehouse.sql("select * from fct_user_recommendations order by user_id, rank").df()
    version = warehouse.sql(f"select * from fct_user_recommendations_v{champion} order by user_id, rank").df()
    assert len(served) > 0
    pd.testing.assert_frame_equal(served[list(version.columns)], version)
    items = pd.read_parquet(thin_catalogue_shop / "items.parquet").set_index("item_id")
    assert served["item_title"].tolist() == items.loc[served["item_id"], "title"].tolist()
    assert served["item_category"].tolist() == items.loc[served["item_id"], "category"].tolist()
    assert served["item_title"].isna().any() and served["item_title"].notna().any()
    comments = dict(warehouse.sql("select column_name, comment from duckdb_columns() "
                                  "where table_name = 'fct_user_recommendations'").fetchall())
    assert "dim_items.title" in comments["item_title"] and "dim_items.category" in comments["item_category"]


def test_every_registry_run_of_a_build_names_its_method(warehouse):
    runs = warehouse.sql("select model_name, model_version, method from fct_model_runs").df()
    assert {"user_value", "conversation_experience", "item_similarity", "text_sentiment"} <= set(runs["model_name"])
    assert runs["method"].notna().all(), runs[runs["method"].isna()]
    user_value = runs[runs["model_name"] == "user_value"].set_index("model_version")["method"].to_dict()
    assert user_value["1"] == "linear_regression" and user_value["2"] == "bgnbd_gamma_gamma"
    assert user_value["baseline_rfm_boosting"] == "baseline_boosting"


def test_the_registry_refuses_a_run_without_a_method():
    with pytest.raises(ValueError, match="no method"):
        record_run(None, {"model_name": "user_value", "model_version": 1, "status": "fitted"})


def test_the_features_as_of_date_is_the_latest_order_date_under_one_name(warehouse, thin_catalogue_shop):
    # Orders are read as UTC timestamps; the generated shop has no quarantined order.
    latest_order_date = pd.to_datetime(pd.read_parquet(thin_catalogue_shop / "orders.parquet")["ordered_at"],
                                       utc=True).max().date()
    types = dict(warehouse.sql(
        "select table_name, data_type from duckdb_columns() where column_name = 'features_as_of_date' "
        "and table_name in ('fct_user_features', 'fct_user_value_predictions', 'fct_user_value_predictions_v1')").fetchall())
    assert types == {"fct_user_features": "DATE", "fct_user_value_predictions": "DATE",
                     "fct_user_value_predictions_v1": "DATE"}
    assert not warehouse.sql("select 1 from duckdb_columns() where column_name in ('scored_at', 'expected_value') "
                             "and (table_name like 'fct%' or table_name like 'dim%')").fetchall()
    dates = warehouse.sql("select distinct features_as_of_date from fct_user_value_predictions "
                          "union select distinct features_as_of_date from fct_user_features").fetchall()
    assert dates == [(latest_order_date,)]


def test_segment_total_predicted_spend_is_dim_users_predicted_spend_summed(warehouse):
    users = warehouse.sql("select segment, predicted_spend from dim_users").df()
    expected = users.groupby("segment")["predicted_spend"].sum(min_count=0)
    summary = warehouse.sql("select segment, total_predicted_spend, share_of_predicted_spend "
                            "from fct_segment_summary").df().set_index("segment")
    assert summary["total_predicted_spend"].to_dict() == pytest.approx(expected.to_dict(), rel=1e-9)
    assert summary["share_of_predicted_spend"].to_dict() == pytest.approx(
        (expected / expected.sum()).to_dict(), rel=1e-9)
