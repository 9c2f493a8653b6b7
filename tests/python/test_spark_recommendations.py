"""Behaviour similarity and user recommendations on Spark (ltv.engines.spark_recommendations) give the
rows of the numpy/numba code the DuckDB build runs (ltv.similarity, ltv.recommend).

First on small hand-made shops, Spark in this process against item_similarities / recommend_items
called directly: ties at the cut of a top-K and a top-N list, items nobody bought, users with no
history or only neighbourless items (the popularity fallback), owned items never recommended. Then
the demo builds of both engines that every test file shares (spark_demo, demo_warehouse), every row
compared."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import local_spark_session, requires_spark
from spark_comparison import assert_same_keyed_rows, same_cell

requires_spark()

from ltv.recommend import recommend_items  # noqa: E402
from ltv.similarity import item_similarities  # noqa: E402

SIMILARITY_COLUMNS = ["item_id", "similar_item_id", "similarity", "rank"]
RECOMMENDATION_COLUMNS = ["user_id", "rank", "item_id", "score", "because_item_id", "is_fallback"]


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    session = local_spark_session(tmp_path_factory, "ltv-test-recommendations", partitions=3)
    yield session
    session.stop()


def _hand_made_shop() -> pd.DataFrame:
    """[user_id, item_id, interaction_weight, purchases_total, returned_total, cancelled_total]:
    i1 and i2 bought by the same users (equal similarities to everyone: a tie), i5 by one user only,
    i4 only viewed (weight, no purchase), u5 only returned an item, u6 only views i6 (no neighbour)."""
    rows = [
        ("u1", "i1", 3.0, 2, 0, 0), ("u1", "i2", 1.0, 1, 0, 0), ("u1", "i3", 1.0, 1, 0, 0),
        ("u2", "i1", 1.0, 1, 0, 0), ("u2", "i2", 2.0, 1, 0, 0), ("u2", "i4", 0.5, 0, 0, 0),
        ("u3", "i3", 1.0, 1, 0, 0), ("u3", "i4", 0.5, 0, 0, 0), ("u3", "i5", 4.0, 3, 0, 1),
        ("u4", "i3", 2.0, 1, 0, 0), ("u4", "i1", 0.0, 0, 1, 0),
        ("u5", "i2", 0.0, 0, 1, 0),
        ("u6", "i6", 0.5, 0, 0, 0),
    ]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "interaction_weight", "purchases_total",
                                       "returned_total", "cancelled_total"])


def _random_shop(seed: int, users: int = 60, items: int = 25, rows: int = 260) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"user_id": [f"u{u:03d}" for u in rng.integers(0, users, rows)],
                          "item_id": [f"i{i:02d}" for i in (rng.zipf(1.6, rows) - 1) % items]})
    frame = frame.drop_duplicates(["user_id", "item_id"]).reset_index(drop=True)
    frame["purchases_total"] = rng.integers(0, 4, len(frame))
    frame["returned_total"] = (rng.random(len(frame)) < 0.08).astype(int)
    frame["cancelled_total"] = (rng.random(len(frame)) < 0.05).astype(int)
    frame["interaction_weight"] = frame["purchases_total"] + rng.choice([0.0, 0.25, 0.5], len(frame))
    return frame


def _same_frames(actual: pd.DataFrame, expected: pd.DataFrame, keys: list[str]) -> None:
    actual = actual.sort_values(keys).reset_index(drop=True)
    expected = expected.sort_values(keys).reset_index(drop=True)
    assert len(expected) > 0
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False, check_exact=True)


def _spark_similarities(spark, shop: pd.DataFrame, catalogue: list[str], version: int, top_k: int) -> pd.DataFrame:
    from ltv.engines.spark_recommendations import item_similarities as on_spark

    result = on_spark(spark.createDataFrame(shop[["user_id", "item_id", "interaction_weight"]]),
                      spark.createDataFrame(pd.DataFrame({"item_id": catalogue})), version, top_k=top_k,
                      bm25_k1=1.2, bm25_b=0.75)
    frame = result.toPandas()
    assert set(frame["source"]) <= {"behaviour"} and set(frame["model_version"]) <= {version}
    return frame[SIMILARITY_COLUMNS]


def _numpy_similarities(shop: pd.DataFrame, catalogue: list[str], version: int, top_k: int) -> pd.DataFrame:
    positive = shop.loc[shop["interaction_weight"] > 0, ["user_id", "item_id", "interaction_weight"]]
    return item_similarities(positive.rename(columns={"interaction_weight": "weight"}),
                             method={1: "cosine", 2: "bm25"}[version], top_k=top_k, item_ids=catalogue)


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("top_k", [1, 2, 50])
def test_hand_made_similarities_equal_numpys(spark, version, top_k):
    shop = _hand_made_shop()
    catalogue = ["i1", "i2", "i3", "i4", "i5", "i6", "i7"]  # i7: in the catalogue, never bought
    expected = _numpy_similarities(shop, catalogue, version, top_k)
    _same_frames(_spark_similarities(spark, shop, catalogue, version, top_k), expected, ["item_id", "rank"])
    if version == 1 and top_k == 2:
        # i1 and i2 have the same buyers, so i4 (viewed by u2, u3) is as similar to both (1/2), after i5
        # (1/sqrt(2)): the tie at the cut goes to i1.
        assert expected.loc[expected["item_id"] == "i4", "similar_item_id"].tolist() == ["i5", "i1"]


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("seed", [0, 1])
def test_random_similarities_equal_numpys(spark, version, seed):
    shop = _random_shop(seed)
    catalogue = sorted({*shop["item_id"], "i98", "i99"})
    _same_frames(_spark_similarities(spark, shop, catalogue, version, 4),
                 _numpy_similarities(shop, catalogue, version, 4), ["item_id", "rank"])


def _numpy_recommendations(shop: pd.DataFrame, similarities: pd.DataFrame, users: list[str], version: int,
                           top_n: int) -> pd.DataFrame:
    """What recommendation_models.user_recommendations asks recommend_items for, on the ids."""
    positive = shop.loc[shop["interaction_weight"] > 0, ["user_id", "item_id", "interaction_weight"]]
    touched = (shop["purchases_total"] > 0) | (shop["returned_total"] > 0) | (shop["cancelled_total"] > 0)
    popularity = shop.loc[shop["purchases_total"] > 0].groupby("item_id").size().rename("popularity_score")
    return recommend_items(positive.rename(columns={"interaction_weight": "weight"}), similarities, top_n=top_n,
                           owned=shop.loc[touched, ["user_id", "item_id"]], popularity=popularity.reset_index(),
                           all_user_ids=users, interaction_transform={1: "binary", 2: "log1p"}[version])


def _spark_recommendations(spark, shop, similarities, users, version, top_n) -> pd.DataFrame:
    from ltv.engines.spark_recommendations import user_recommendations as on_spark

    result = on_spark(spark.createDataFrame(shop), spark.createDataFrame(similarities[
        ["item_id", "similar_item_id", "similarity"]]), spark.createDataFrame(pd.DataFrame({"user_id": users})),
        version, top_n=top_n).toPandas()
    assert set(result["similarity_version"]) == {version}
    return result[RECOMMENDATION_COLUMNS].astype({"because_item_id": object})


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("top_n", [1, 3])
def test_hand_made_recommendations_equal_numpys(spark, version, top_n):
    shop = _hand_made_shop()
    catalogue = ["i1", "i2", "i3", "i4", "i5", "i6", "i7"]
    similarities = _numpy_similarities(shop, catalogue, version, 50)
    users = ["u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7"]  # u0, u7: customers with no history
    expected = _numpy_recommendations(shop, similarities, users, version, top_n)
    expected["because_item_id"] = expected["because_item_id"].astype(object).where(
        expected["because_item_id"].notna(), None)
    actual = _spark_recommendations(spark, shop, similarities, users, version, top_n)
    _same_frames(actual, expected, ["user_id", "rank"])
    fallback_users = set(expected.loc[expected["is_fallback"], "user_id"])
    assert {"u0", "u5", "u6", "u7"} <= fallback_users and not expected["is_fallback"].all()


@pytest.mark.parametrize("version", [1, 2])
def test_random_recommendations_equal_numpys(spark, version):
    shop = _random_shop(2)
    similarities = _numpy_similarities(shop, sorted(set(shop["item_id"])), version, 5)
    users = sorted({*shop["user_id"], "u900", "u901"})
    expected = _numpy_recommendations(shop, similarities, users, version, 4)
    expected["because_item_id"] = expected["because_item_id"].astype(object).where(
        expected["because_item_id"].notna(), None)
    _same_frames(_spark_recommendations(spark, shop, similarities, users, version, 4), expected, ["user_id", "rank"])


def _rated(shop: pd.DataFrame) -> pd.DataFrame:
    """The shop with star ratings: u1 loves i1, u2 dislikes i2, u4 rated i5 without buying it (a row of
    its own), u3 rated the i5 it returned nothing of."""
    shop = shop.assign(rating_latest=np.nan)
    shop.loc[(shop["user_id"] == "u1") & (shop["item_id"] == "i1"), "rating_latest"] = 5.0
    shop.loc[(shop["user_id"] == "u2") & (shop["item_id"] == "i2"), "rating_latest"] = 2.0
    shop.loc[(shop["user_id"] == "u3") & (shop["item_id"] == "i5"), "rating_latest"] = 4.0
    extra = pd.DataFrame([("u4", "i5", 0.0, 0, 0, 0, 3.0)], columns=shop.columns)
    return pd.concat([shop, extra], ignore_index=True)


def _numpy_v3(shop: pd.DataFrame, users: list[str], config: dict, top_n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(v3's similarity lists, what recommendation_models.user_recommendations gives for v3), on the ids."""
    from ltv import recommendation_tuning

    kept = shop.loc[(shop["interaction_weight"] > 0) | (shop["purchases_total"] > 0) | (shop["returned_total"] > 0)
                    | (shop["cancelled_total"] > 0) | shop["rating_latest"].notna()]
    period = recommendation_tuning.period_interactions(kept.reset_index(drop=True), "all")
    similarities = recommendation_tuning.config_similarities(period, config)
    return similarities, recommendation_tuning.config_recommendations(period, config, top_n, users=users,
                                                                      similarities=similarities)


@pytest.mark.parametrize(("rating_mode", "cancelled_weight", "popularity_weight"),
                         [("ignore", 0.0, 0.0), ("positive_only", 0.5, 0.25), ("centered", 0.5, 1.0)])
def test_v3_recommendations_equal_numpys(spark, rating_mode, cancelled_weight, popularity_weight):
    from ltv.engines.spark_recommendations import user_recommendations_v3

    shop = _rated(pd.concat([_hand_made_shop(), _random_shop(3, users=30, items=12, rows=90)], ignore_index=True))
    config = {"family": "knn", "parameters": {"top_k": 3, "bm25_k1": 1.2, "bm25_b": 0.75, "shrink": 0.0},
              "rating_mode": rating_mode, "cancelled_weight": cancelled_weight, "popularity_weight": popularity_weight}
    users = sorted({*shop["user_id"], "u0", "u7"})
    similarities, expected = _numpy_v3(shop, users, config, 3)
    expected["because_item_id"] = expected["because_item_id"].astype(object).where(
        expected["because_item_id"].notna(), None)
    actual = user_recommendations_v3(spark.createDataFrame(shop), spark.createDataFrame(similarities),
                                     spark.createDataFrame(pd.DataFrame({"user_id": users})), config, 3).toPandas()
    assert set(actual["similarity_version"]) == {3}
    _same_frames(actual[RECOMMENDATION_COLUMNS].astype({"because_item_id": object}), expected, ["user_id", "rank"])


@pytest.mark.parametrize(("max_users", "seed"), [(7, 42), (7, 3), (60, 42), (1000, 42)])
def test_the_driver_side_sample_is_the_first_users_by_md5_of_seed_and_id(spark, max_users, seed):
    """spark_offline.sampled_rows (the bound of var ltv_spark_recommendation_sample_users): every row of
    the first max_users users by md5('seed:user_id'), ties by id, recomputed here with hashlib; all the
    rows, not called a sample, when there are no more users than the bound."""
    import hashlib

    from ltv.engines.spark_offline import sampled_rows

    shop = _random_shop(seed=5)
    users = sorted(set(shop["user_id"]))
    rows, is_sample = sampled_rows(spark.createDataFrame(shop), seed, max_users)
    chosen = sorted(users, key=lambda user: (hashlib.md5(f"{seed}:{user}".encode()).hexdigest(), user))[:max_users]
    assert is_sample == (len(users) > max_users)
    expected = shop[shop["user_id"].isin(chosen)]
    _same_frames(rows.toPandas()[list(shop.columns)], expected, ["user_id", "item_id"])


# --- The demo on both engines ---------------------------------------------------------------------------
#
# The recommendation branch of the shared demo builds; Spark's Parquet tables are read back without Spark.

RECOMMENDATION_TABLES = {  # Spark's table folder -> (DuckDB table, key columns)
    **{f"ml.db/ml_item_similarities_v{version}": (f"ml.ml_item_similarities_v{version}", ["item_id", "rank"])
       for version in (1, 2, 3)},
    **{f"ml.db/ml_user_recommendations_v{version}": (f"ml.ml_user_recommendations_v{version}", ["user_id", "rank"])
       for version in (1, 2, 3)},
    "ml.db/ml_item_content_similarities": ("ml.ml_item_content_similarities", ["item_id", "rank"]),
    "ml.db/ml_recommendation_tuning": ("ml.ml_recommendation_tuning", ["grid_point"]),
    "ml.db/ml_recommendation_evaluation": ("ml.ml_recommendation_evaluation", ["model_name", "model_version", "method"]),
    "main.db/fct_recommendation_versions": ("main.fct_recommendation_versions", ["model_version"]),
}  # (fct_item_similarities, fct_user_recommendations and its versions are views of these: built and
#    tested on Spark, no files to read)
# Small tables: a handful of rows is all there is.
TOLERANCE = 1e-6
SMALL_TABLES = {"ml.ml_recommendation_tuning", "ml.ml_recommendation_evaluation", "main.fct_recommendation_versions"}


@pytest.fixture(scope="module")
def recommendations_on_both_engines(demo_warehouse, spark_demo):
    """(the DuckDB demo build, the Spark demo build's warehouse): the builds every test file shares."""
    return demo_warehouse, spark_demo / "warehouse"


def test_the_recommendation_branch_on_spark_has_duckdbs_rows(recommendations_on_both_engines):
    duckdb_path, warehouse = recommendations_on_both_engines
    with duckdb.connect(str(duckdb_path), read_only=True) as connection:
        for folder, (table, keys) in RECOMMENDATION_TABLES.items():
            spark_frame = connection.sql(f"select * from read_parquet('{warehouse / folder}/*.parquet')").df()
            assert_same_keyed_rows(spark_frame, connection.sql(f"select * from {table}").df(), keys, table, TOLERANCE,
                                   min_rows=2 if table in SMALL_TABLES else 1000)


def test_the_demo_exercises_ties_and_the_fallback(recommendations_on_both_engines):
    """What the comparison above covers on the demo: tied similarities inside the top K lists, and
    users served from popularity."""
    duckdb_path, _ = recommendations_on_both_engines
    with duckdb.connect(str(duckdb_path), read_only=True) as connection:
        tied = connection.sql("""select count(*) from (select item_id, similarity from ml.ml_item_similarities_v1
                                 group by all having count(*) > 1)""").fetchall()[0][0]
        fallback = connection.sql("select count(distinct user_id) from ml.ml_user_recommendations_v1 "
                                  "where is_fallback").fetchall()[0][0]
    assert tied > 100 and fallback > 10


def test_spark_records_the_runs_duckdb_records(recommendations_on_both_engines):
    """The tuning's and the evaluation's registry runs, recorded from the driver on Spark."""
    import json

    duckdb_path, warehouse = recommendations_on_both_engines
    query = """select model_name, model_version, method, status, message, train_rows, holdout_rows, cutoff_date,
                      horizon_days, parameters_json, metrics_json from {}
               where model_name = 'item_similarity' order by all"""
    with duckdb.connect(str(duckdb_path), read_only=True) as connection:
        expected = connection.sql(query.format("registry.model_run_log")).fetchall()
        recorded = connection.sql(query.format(
            f"read_parquet('{warehouse}/registry.db/model_run_log/*.parquet')")).fetchall()
    assert len(expected) == 6 and len(recorded) == len(expected)  # v1, v2, v3, content, popularity; tuning
    for spark_row, duckdb_row in zip(recorded, expected, strict=True):
        assert spark_row[:-2] == duckdb_row[:-2]
        assert json.loads(spark_row[-2]) == json.loads(duckdb_row[-2])
        spark_metrics, duckdb_metrics = json.loads(spark_row[-1]), json.loads(duckdb_row[-1])
        assert spark_metrics.keys() == duckdb_metrics.keys()
        assert all(same_cell(spark_metrics[name], duckdb_metrics[name], TOLERANCE) for name in duckdb_metrics)
