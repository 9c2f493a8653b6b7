"""Ranking metrics against hand-computed values, and the offline comparison of recommenders."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from ltv.metrics import MIN_EVALUATED_USERS
from ltv.ranking_metrics import evaluate_recommendations, evaluation_verdict, offline_evaluation
from ltv.recommend import synthetic_interactions


def recommendation_frame(lists: dict[str, list[str]]) -> pd.DataFrame:
    rows = [(user, rank, item) for user, items in lists.items() for rank, item in enumerate(items, start=1)]
    return pd.DataFrame(rows, columns=["user_id", "rank", "item_id"])


def purchase_frame(purchases: dict[str, list[str]]) -> pd.DataFrame:
    rows = [(user, item) for user, items in purchases.items() for item in items]
    return pd.DataFrame(rows, columns=["user_id", "item_id"])


def test_hand_computed_metrics():
    recommendations = recommendation_frame(
        {"A": ["a", "b", "c", "d", "e"], "B": ["x", "y"], "D": ["a", "m"]}  # D bought nothing later
    )
    # A: 3 relevant, one hit at rank 2 within k = 3. B: 1 relevant, hit at rank 1. C: nothing shown.
    test = purchase_frame({"A": ["b", "d", "z", "b"], "B": ["x"], "C": ["q"]})
    metrics = evaluate_recommendations(recommendations, test, k=3, catalogue_size=20)

    ndcg_a = (1 / math.log2(3)) / (1 + 1 / math.log2(3) + 1 / math.log2(4))
    assert metrics["users_evaluated"] == 3
    assert metrics["precision_at_k"] == pytest.approx((1 / 3 + 1 / 3 + 0) / 3)
    assert metrics["recall_at_k"] == pytest.approx((1 / 3 + 1 + 0) / 3)
    assert metrics["ndcg_at_k"] == pytest.approx((ndcg_a + 1 + 0) / 3)
    # AP@3: A has precision 1/2 at its hit, over min(3, 3); B 1/1 over min(3, 1).
    assert metrics["map_at_k"] == pytest.approx((0.5 / 3 + 1 + 0) / 3)
    # Top-3 items anyone sees: a, b, c, x, y, m.
    assert metrics["catalogue_coverage"] == pytest.approx(6 / 20)
    # Standard errors by hand: sqrt(sum of squared deviations / (3 - 1)) / sqrt(3) of the users' values.
    for name, values in (("precision_at_k", [1 / 3, 1 / 3, 0]), ("recall_at_k", [1 / 3, 1, 0]),
                         ("ndcg_at_k", [ndcg_a, 1, 0]), ("map_at_k", [0.5 / 3, 1, 0])):
        mean = sum(values) / 3
        expected = math.sqrt(sum((value - mean) ** 2 for value in values) / 2) / math.sqrt(3)
        assert metrics[f"{name}_standard_error"] == pytest.approx(expected), name
    assert "catalogue_coverage_standard_error" not in metrics  # not a mean over users
    one = evaluate_recommendations(recommendations, purchase_frame({"B": ["x"]}), k=3)
    assert one["ndcg_at_k"] == 1.0 and one["ndcg_at_k_standard_error"] is None  # one user: no spread to measure


def test_several_hits_for_one_user():
    recommendations = recommendation_frame({"U": ["r1", "r2", "r3", "r4"]})
    test = purchase_frame({"U": ["r1", "r3", "r9"]})
    metrics = evaluate_recommendations(recommendations, test, k=4)
    assert metrics["precision_at_k"] == pytest.approx(2 / 4)
    assert metrics["recall_at_k"] == pytest.approx(2 / 3)
    assert metrics["ndcg_at_k"] == pytest.approx(
        (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3) + 1 / math.log2(4))
    )
    assert metrics["map_at_k"] == pytest.approx((1 / 1 + 2 / 3) / 3)
    # Default catalogue: items seen in recommendations or test purchases (r1..r4, r9).
    assert metrics["catalogue_coverage"] == pytest.approx(4 / 5)


def test_perfect_ranking_scores_one_and_no_users_gives_none():
    recommendations = recommendation_frame({"U": ["a", "b"], "V": ["c"]})
    perfect = evaluate_recommendations(recommendations, purchase_frame({"U": ["a", "b"], "V": ["c"]}), k=2)
    assert perfect["ndcg_at_k"] == pytest.approx(1.0) and perfect["map_at_k"] == pytest.approx(1.0)
    assert perfect["recall_at_k"] == pytest.approx(1.0)
    nobody = evaluate_recommendations(recommendations, purchase_frame({}), k=2)
    assert nobody["users_evaluated"] == 0 and nobody["ndcg_at_k"] is None


def themed_shop(seed: int = 7):
    """Users buy mostly inside one theme (20 items each); the catalogue knows the theme as category."""
    interactions = synthetic_interactions(3_000, 400, 40_000, seed=seed, n_themes=20)
    pairs = interactions.drop_duplicates(["user_id", "item_id"]).sample(frac=1.0, random_state=seed)
    is_test = np.zeros(len(pairs), dtype=bool)
    is_test[: len(pairs) // 5] = True
    test_pairs = pairs[is_test][["user_id", "item_id"]]
    train = interactions.merge(test_pairs, on=["user_id", "item_id"], how="left", indicator=True)
    train = train[train["_merge"] == "left_only"].drop(columns="_merge")
    rng = np.random.default_rng(seed)
    items = pd.DataFrame(
        {
            "item_id": np.arange(400),
            "category": [f"theme{item // 20}" for item in range(400)],
            "brand": rng.choice([f"brand{number}" for number in range(30)], 400),
            "price": rng.lognormal(3, 1, 400).round(2),
            "title": [f"theme{item // 20} product {item}" for item in range(400)],
            "description": "",
        }
    )
    return train, test_pairs, items


def test_similarity_methods_beat_popularity_on_themed_data():
    train, test, items = themed_shop()
    runs = offline_evaluation(train, test, items, top_k=20, top_n=10)
    json.dumps(runs)  # plain JSON types only
    by_method = {run["method"]: run for run in runs}
    assert set(by_method) == {"cosine", "bm25", "content", "popularity"}
    assert by_method["cosine"]["model_version"] == 1 and by_method["bm25"]["model_version"] == 2
    assert by_method["cosine"]["train_rows"] == len(train) and by_method["cosine"]["holdout_rows"] == len(
        test
    )
    assert by_method["bm25"]["parameters"]["bm25_k1"] == 1.2
    popularity_ndcg = by_method["popularity"]["metrics"]["ndcg_at_k"]
    for method in ("cosine", "bm25"):
        assert by_method[method]["metrics"]["ndcg_at_k"] > 1.5 * popularity_ndcg
        assert (
            by_method[method]["metrics"]["catalogue_coverage"]
            > by_method["popularity"]["metrics"]["catalogue_coverage"]
        )
    assert by_method["popularity"]["metrics"]["fallback_user_share"] == 1.0
    assert by_method["cosine"]["metrics"]["users_evaluated"] == test["user_id"].nunique()
    # Every run carries the popularity baseline and the verdict against it.
    for method, run in by_method.items():
        assert run["metrics"]["metric_status"] == "ok", method
        assert run["metrics"]["baseline_ndcg_at_k"] == popularity_ndcg, method
    assert by_method["cosine"]["metrics"]["beats_baseline"] is True
    assert by_method["bm25"]["metrics"]["beats_baseline"] is True
    assert by_method["popularity"]["metrics"]["beats_baseline"] is None  # not judged against itself


def test_unknown_method_is_refused():
    train, test, items = themed_shop()
    with pytest.raises(ValueError, match="unknown methods"):
        offline_evaluation(train, test, items, top_k=5, top_n=5, methods=("cosine", "als"))


# --------------------------------------------------------------------------------------------------
# A registry that does not flatter: tiny evaluations report no metrics


METRIC_KEYS = ("precision_at_k", "recall_at_k", "ndcg_at_k", "map_at_k", "catalogue_coverage")


def catalogue(item_ids: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"item_id": item_ids, "category": "shoes", "brand": "acme", "price": 10.0,
                         "title": [f"product {item}" for item in item_ids], "description": ""})


def popular_item_shop(test_users: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Ten train users bought a (five also b); `test_users` new users each buy a after the cut-off.
    New users have no history, so every method serves the popularity list a, b: by hand, each test
    user has one relevant item at rank 1, so precision@10 = 1/10, recall = NDCG = MAP = 1, and the
    items shown are {a, b} of a catalogue of five: coverage 2/5."""
    train = pd.DataFrame({"user_id": [f"t{index}" for index in range(10)] + [f"t{index}" for index in range(5)],
                          "item_id": ["a"] * 10 + ["b"] * 5, "weight": 1.0})
    test = pd.DataFrame({"user_id": [f"s{index:02d}" for index in range(test_users)], "item_id": "a"})
    return train, test, catalogue(["a", "b", "c", "d", "e"])


def test_fifty_evaluated_users_are_enough_and_a_tie_with_popularity_is_not_a_win():
    train, test, items = popular_item_shop(MIN_EVALUATED_USERS)
    runs = {run["method"]: run for run in offline_evaluation(train, test, items, top_k=5, top_n=10)}
    for method, run in runs.items():
        metrics = run["metrics"]
        assert metrics["metric_status"] == "ok", method
        assert metrics["users_evaluated"] == 50
        assert metrics["precision_at_k"] == pytest.approx(0.1)
        assert metrics["recall_at_k"] == pytest.approx(1.0) and metrics["map_at_k"] == pytest.approx(1.0)
        assert metrics["ndcg_at_k"] == pytest.approx(1.0)
        assert metrics["catalogue_coverage"] == pytest.approx(2 / 5)
        assert metrics["baseline_ndcg_at_k"] == pytest.approx(1.0)
    # The same list as the baseline: equal NDCG does not beat it.
    assert runs["cosine"]["metrics"]["beats_baseline"] is False
    assert runs["bm25"]["metrics"]["beats_baseline"] is False


def test_two_evaluated_users_are_too_few():
    train, test, items = popular_item_shop(2)
    runs = offline_evaluation(train, test, items, top_k=5, top_n=10)
    assert {run["method"] for run in runs} == {"cosine", "bm25", "content", "popularity"}
    for run in runs:
        metrics = run["metrics"]
        assert run["status"] == "fitted"
        assert metrics["metric_status"] == "too_few_users", run["method"]
        assert all(metrics[key] is None for key in METRIC_KEYS), metrics
        assert metrics["users_evaluated"] == 2
        assert metrics["baseline_ndcg_at_k"] is None and metrics["beats_baseline"] is None
    json.loads(json.dumps(runs, allow_nan=False))


def test_one_item_catalogue_is_degenerate():
    # The one-item shop that once recorded P@10 0.1, NDCG 1.0 and coverage 1.0 on two users.
    train = pd.DataFrame({"user_id": ["t0", "t1", "t2"], "item_id": "only", "weight": 1.0})
    test = pd.DataFrame({"user_id": ["s0", "s1"], "item_id": "only"})
    runs = offline_evaluation(train, test, catalogue(["only"]), top_k=5, top_n=10)
    assert len(runs) == 4
    for run in runs:
        metrics = run["metrics"]
        assert metrics["metric_status"] == "degenerate_catalogue", run["method"]
        assert all(metrics[key] is None for key in METRIC_KEYS), metrics
        assert metrics["baseline_ndcg_at_k"] is None and metrics["beats_baseline"] is None
    json.loads(json.dumps(runs, allow_nan=False))


def test_baseline_is_evaluated_even_without_a_popularity_run():
    train, test, items = popular_item_shop(60)
    runs = offline_evaluation(train, test, items, top_k=5, top_n=10, methods=("cosine",))
    assert [run["method"] for run in runs] == ["cosine"]
    assert runs[0]["metrics"]["baseline_ndcg_at_k"] == pytest.approx(1.0)
    assert runs[0]["metrics"]["beats_baseline"] is False


def test_evaluation_verdict_by_hand():
    metrics = {"precision_at_k": 0.2, "recall_at_k": 0.5, "ndcg_at_k": 0.4, "map_at_k": 0.3,
               "catalogue_coverage": 0.6, "users_evaluated": 50, "fallback_user_share": 0.1}
    assert evaluation_verdict(metrics, catalogue_size=2) == {**metrics, "metric_status": "ok"}
    few = evaluation_verdict({**metrics, "users_evaluated": 49}, catalogue_size=100)
    assert few["metric_status"] == "too_few_users" and all(few[key] is None for key in METRIC_KEYS)
    assert few["ndcg_at_k_standard_error"] is None  # withheld with the metric
    assert few["users_evaluated"] == 49 and few["fallback_user_share"] == 0.1
    nobody = evaluation_verdict({**metrics, "users_evaluated": 0}, catalogue_size=100)
    assert nobody["metric_status"] == "too_few_users"
    # The catalogue is judged first: a one-item shop is degenerate whatever the number of users.
    assert evaluation_verdict(metrics, catalogue_size=1)["metric_status"] == "degenerate_catalogue"
    assert evaluation_verdict(metrics, catalogue_size=0)["metric_status"] == "degenerate_catalogue"
    assert metrics.get("metric_status") is None  # the input is not changed


def evaluation_table(test_users: int, item_ids: list[str]) -> pd.DataFrame:
    """ml_recommendation_evaluation's entry point on an in-memory DuckDB: t0..t9 bought every item
    before the cut-off; the test users bought the first item after it."""
    import duckdb

    from ltv.dbt_entrypoints import recommendation_evaluation

    connection = duckdb.connect()
    rows = [(f"t{index}", item, 1.0, 1, 0, 0, 0, None) for index in range(10) for item in item_ids]
    rows += [(f"s{index:02d}", item_ids[0], 0.0, 0, 1, 0, 0, None) for index in range(test_users)]
    interactions = pd.DataFrame(rows, columns=["user_id", "item_id", "interaction_weight_before_cutoff",
                                               "purchases_before_cutoff", "purchases_after_cutoff",
                                               "returned_before_cutoff", "cancelled_before_cutoff",
                                               "rating_before_cutoff"]).astype({"rating_before_cutoff": float})
    items = catalogue(item_ids)
    return recommendation_evaluation(connection, connection.from_df(interactions), connection.from_df(items),
                                     pd.DataFrame())


def test_evaluation_table_types_status_and_verdict_columns():
    table = evaluation_table(2, ["only"])
    assert table["metric_status"].tolist() == ["degenerate_catalogue"] * 4
    assert table["beats_baseline"].dtype == "boolean" and table["beats_baseline"].isna().all()
    for column in ("precision_at_10", "ndcg_at_10", "catalogue_coverage", "baseline_ndcg_at_10"):
        assert table[column].dtype == "float64" and table[column].isna().all(), column
    assert (table["users_evaluated"] == 2).all()

    table = evaluation_table(60, ["a", "b", "c"]).set_index("method")
    assert (table["metric_status"] == "ok").all()
    # Every method serves a, b, c to users without history: the first item, bought, at rank 1.
    assert table["ndcg_at_10"].tolist() == pytest.approx([1.0] * 4)
    assert table["baseline_ndcg_at_10"].tolist() == pytest.approx([1.0] * 4)
    verdicts = table["beats_baseline"]
    assert verdicts.drop("popularity").eq(False).all() and pd.isna(verdicts["popularity"])
