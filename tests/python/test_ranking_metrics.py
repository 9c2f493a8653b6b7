"""Ranking metrics against hand-computed values, and the offline comparison of recommenders."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from ltv.ranking_metrics import evaluate_recommendations, offline_evaluation
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


def test_unknown_method_is_refused():
    train, test, items = themed_shop()
    with pytest.raises(ValueError, match="unknown methods"):
        offline_evaluation(train, test, items, top_k=5, top_n=5, methods=("cosine", "als"))
