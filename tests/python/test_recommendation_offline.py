"""ml_recommendation_evaluation and ml_recommendation_tuning on DuckDB-coded ids and a sample of test
users, against the plain functions run on the text ids (what the models did before coding) and
against the sample drawn by hand with hashlib."""

from __future__ import annotations

import hashlib

import duckdb
import numpy as np
import pandas as pd
import pytest

from ltv import ranking_metrics
from ltv import recommendation_tuning as tuning
from ltv.dbt_entrypoints import recommendation_evaluation, recommendation_tuning
from ltv.dbt_entrypoints.recommendation_offline import _coded_rows, _sampled_test_purchases

EVALUATION_COLUMNS = ["user_id", "item_id", "interaction_weight_before_cutoff", "purchases_before_cutoff",
                      "purchases_after_cutoff", "returned_before_cutoff", "cancelled_before_cutoff",
                      "rating_before_cutoff"]
TUNING_COLUMNS = ["user_id", "item_id", "purchases_before_cutoff", "returned_before_cutoff", "cancelled_before_cutoff",
                  "rating_before_cutoff", "purchases_before_validation_cutoff", "returned_before_validation_cutoff",
                  "cancelled_before_validation_cutoff", "rating_before_validation_cutoff"]


def themed_shop(seed: int = 3, n_users: int = 400, n_items: int = 60) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(aggregated interactions, catalogue) with text ids whose string order is not their number
    order: users buy in one of six themes before and after the cut-off, some lines are returned or
    cancelled, some rated; a few catalogue items nobody bought."""
    rng = np.random.default_rng(seed)
    rows = {}
    for user in range(n_users):
        theme = rng.integers(0, 6)
        for _ in range(int(rng.integers(1, 9))):
            item = int(theme * 10 + rng.integers(0, 10)) if rng.random() < 0.8 else int(rng.integers(0, n_items))
            before, after = rng.random() < 0.6, rng.random() < 0.5
            validation = before and rng.random() < 0.6
            returned, cancelled = int(before and rng.random() < 0.05), int(before and rng.random() < 0.1)
            rating = float(rng.integers(1, 6)) if before and rng.random() < 0.2 else np.nan
            rows[(f"u{user}", f"i{item}")] = (float(before) * (1 + rng.integers(0, 2)), int(before),
                                              int(after), returned, cancelled, rating, int(validation), returned,
                                              cancelled if validation else 0, rating if validation else np.nan)
    frame = pd.DataFrame([(user, item, *values) for (user, item), values in rows.items()],
                         columns=["user_id", "item_id", "interaction_weight_before_cutoff", "purchases_before_cutoff",
                                  "purchases_after_cutoff", "returned_before_cutoff", "cancelled_before_cutoff",
                                  "rating_before_cutoff", "purchases_before_validation_cutoff",
                                  "returned_before_validation_cutoff", "cancelled_before_validation_cutoff",
                                  "rating_before_validation_cutoff"])
    items = pd.DataFrame({"item_id": [f"i{item}" for item in range(n_items + 5)],
                          "category": [f"theme{item // 10}" for item in range(n_items + 5)], "brand": "acme",
                          "price": 10.0, "title": [f"product {item}" for item in range(n_items + 5)],
                          "description": ""})
    return frame, items


def evaluation_table(interactions: pd.DataFrame, items: pd.DataFrame, tuning_table: pd.DataFrame | None) -> pd.DataFrame:
    """The model's table on an in-memory DuckDB, without a settings row: seed 0, top-K 50."""
    connection = duckdb.connect()
    return recommendation_evaluation(
        connection, connection.from_df(interactions[EVALUATION_COLUMNS]), connection.from_df(items), pd.DataFrame(),
        tuning=None if tuning_table is None else connection.from_df(tuning_table)).set_index("method")


def text_id_evaluation(interactions: pd.DataFrame, items: pd.DataFrame, tuning_table: pd.DataFrame,
                       users: set | None = None) -> dict:
    """The evaluation as the model computed it before coding (pandas on the text ids), restricted
    to `users` (default: every test user): {method: metrics}."""
    from ltv.content_similarity import content_similarities
    from ltv.dbt_entrypoints.recommendation_models import chosen_config

    interactions = interactions.sort_values(["user_id", "item_id"], ignore_index=True)
    train = interactions.loc[interactions["interaction_weight_before_cutoff"] > 0, ["user_id", "item_id"]].assign(
        weight=interactions.loc[interactions["interaction_weight_before_cutoff"] > 0, "interaction_weight_before_cutoff"])
    before_cutoff = tuning.period_interactions(interactions, "cutoff")
    test = tuning.first_purchases_after(before_cutoff, interactions.loc[interactions["purchases_after_cutoff"] > 0])
    if users is not None:
        test = test.loc[test["user_id"].isin(users)]
    config = chosen_config(tuning_table)
    catalogue = items.sort_values("item_id", ignore_index=True)
    tuned = tuning.config_recommendations(before_cutoff, config, 10, users=pd.unique(test["user_id"]),
                                          item_ids=catalogue["item_id"])
    runs = ranking_metrics.offline_evaluation(
        train, test, catalogue, top_k=50, top_n=10, excluded=tuning.excluded_pairs(before_cutoff),
        content_similarity_table=content_similarities(catalogue, top_k=50)[["item_id", "similar_item_id", "similarity"]],
        extra_runs={"tuned": (3, config, tuned)})
    return {run["method"]: run["metrics"] for run in runs}


@pytest.fixture(scope="module")
def shop():
    interactions, items = themed_shop()
    connection = duckdb.connect()
    tuning_table = recommendation_tuning(connection, connection.from_df(interactions[TUNING_COLUMNS]), pd.DataFrame())
    return interactions, items, tuning_table


def test_tuning_on_codes_chooses_as_on_the_text_ids(shop):
    interactions, _, tuning_table = shop
    frame = interactions[TUNING_COLUMNS].sort_values(["user_id", "item_id"], ignore_index=True)
    train = tuning.period_interactions(frame, "validation")
    later = tuning.period_interactions(frame, "cutoff")
    later = later.loc[later["purchases"] > 0].merge(train[["user_id", "item_id", "purchases"]], on=["user_id", "item_id"],
                                                    how="left", suffixes=("", "_before"))
    validation = tuning.first_purchases_after(train, later.loc[later["purchases"] > later["purchases_before"].fillna(0)])
    chosen, grid = tuning.tune(train, validation, seed=0)
    assert len(grid) == len(tuning_table) > 1
    assert tuning_table["validation_ndcg_at_10"].tolist() == [point["validation_ndcg_at_10"] for point in grid]
    assert tuning_table.loc[tuning_table["is_chosen"], "family"].item() == chosen["family"]


def test_every_test_user_evaluated_equals_the_text_id_evaluation_exactly(shop):
    interactions, items, tuning_table = shop
    table = evaluation_table(interactions, items, tuning_table)
    expected = text_id_evaluation(interactions, items, tuning_table)
    assert set(table.index) == set(expected) == {"cosine", "bm25", "content", "popularity", "tuned"}
    for method, metrics in expected.items():
        assert table.loc[method, "users_evaluated"] == table.loc[method, "test_users"] == metrics["users_evaluated"]
        for name in ("precision_at_k", "recall_at_k", "ndcg_at_k", "map_at_k", "catalogue_coverage",
                     "ndcg_at_k_standard_error", "baseline_ndcg_at_k", "fallback_user_share"):
            assert table.loc[method, name.replace("_at_k", "_at_10")] == metrics[name], (method, name)


def test_a_sample_is_drawn_by_seed_and_user_id_and_evaluated_like_those_users_alone(shop, monkeypatch):
    interactions, items, tuning_table = shop
    full = evaluation_table(interactions, items, tuning_table)
    test_users = int(full.loc["cosine", "test_users"])
    monkeypatch.setattr(ranking_metrics, "EVALUATION_SAMPLE_USERS", 100)
    table = evaluation_table(interactions, items, tuning_table)
    assert (table["users_evaluated"] == 100).all() and (table["test_users"] == test_users).all()
    # The sample by hand: the 100 test users first by md5("0:" + user_id) (seed 0: no settings row).
    before = tuning.period_interactions(interactions, "cutoff")
    test = tuning.first_purchases_after(before, interactions.loc[interactions["purchases_after_cutoff"] > 0])
    drawn = sorted(pd.unique(test["user_id"]), key=lambda user: (hashlib.md5(f"0:{user}".encode()).hexdigest(), user))
    assert ranking_metrics.sampled_users(test["user_id"], seed=0, size=100) == set(drawn[:100])
    expected = text_id_evaluation(interactions, items, tuning_table, users=set(drawn[:100]))
    for method, metrics in expected.items():
        assert metrics["users_evaluated"] == 100
        for name in ("precision_at_k", "ndcg_at_k", "map_at_k", "recall_at_k_standard_error"):
            assert table.loc[method, name.replace("_at_k", "_at_10")] == metrics[name], (method, name)
    # The same data gives the same sample: the same table.
    pd.testing.assert_frame_equal(table, evaluation_table(interactions, items, tuning_table))


def test_sampled_test_purchases_by_hand():
    # u1 bought a after the cut-off only: a test purchase. u2 bought b before and after: not one (no
    # version shows b to u2). u3 returned c before and bought it after: not one. u4 bought d and e after.
    interactions = pd.DataFrame(
        [("u1", "a", 0.0, 0, 1, 0, 0, None), ("u2", "b", 1.0, 1, 1, 0, 0, None), ("u3", "c", 0.0, 0, 1, 1, 0, None),
         ("u4", "d", 0.0, 0, 1, 0, 0, None), ("u4", "e", 0.0, 0, 1, 0, 0, None), ("u5", "a", 1.0, 1, 0, 0, 0, 4.0)],
        columns=EVALUATION_COLUMNS)
    connection = duckdb.connect()
    _coded_rows(connection, "t", connection.from_df(interactions), columns=())
    purchases, test_users = _sampled_test_purchases(connection, "t", seed=7, sample_size=1)
    assert test_users == 2
    user_codes = dict(connection.sql("select code, id from t_user_codes").fetchall())
    item_codes = dict(connection.sql("select code, id from t_item_codes").fetchall())
    first = min(["u1", "u4"], key=lambda user: hashlib.md5(f"7:{user}".encode()).hexdigest())
    assert {user_codes[code] for code in purchases["user_id"]} == {first}
    assert sorted(item_codes[code] for code in purchases["item_id"]) == (["a"] if first == "u1" else ["d", "e"])
    everyone, _ = _sampled_test_purchases(connection, "t", seed=7, sample_size=10)
    decoded = [(user_codes[user], item_codes[item]) for user, item in everyone.itertuples(index=False)]
    assert decoded == [("u1", "a"), ("u4", "d"), ("u4", "e")]


@pytest.mark.parametrize("rating_mode", ["ignore", "centered"])
def test_item_similarity_v3_on_codes_equals_the_text_id_similarities(shop, rating_mode):
    """ml_item_similarities_v3 codes the ids in DuckDB; its rows must be config_similarities' on the
    text ids: same pairs, ranks and similarities to the bit. The catalogue has items nobody bought,
    and one bought item is not in it (dropped either way)."""
    from ltv.dbt_entrypoints import item_similarity_v3
    from ltv.dbt_entrypoints.recommendation_models import chosen_config

    interactions, items, tuning_table = shop
    totals = interactions.rename(columns={"purchases_before_cutoff": "purchases_total",
                                          "returned_before_cutoff": "returned_total",
                                          "cancelled_before_cutoff": "cancelled_total",
                                          "rating_before_cutoff": "rating_latest"})
    totals = totals[["user_id", "item_id", "purchases_total", "returned_total", "cancelled_total", "rating_latest"]]
    catalogue = items.loc[items["item_id"] != "i7", ["item_id"]]
    chosen = tuning_table.loc[tuning_table["is_chosen"]].copy()
    chosen["rating_mode"] = rating_mode
    connection = duckdb.connect()
    actual = item_similarity_v3(connection, connection.from_df(totals), connection.from_df(catalogue),
                                connection.from_df(chosen), pd.DataFrame()).df()
    expected = tuning.config_similarities(tuning.period_interactions(totals, "all"), chosen_config(chosen),
                                          item_ids=catalogue["item_id"])
    assert len(expected) > 100 and not expected["item_id"].eq("i7").any()
    actual = actual.sort_values(["item_id", "rank"], ignore_index=True)
    assert actual[["item_id", "similar_item_id", "rank"]].values.tolist() == \
        expected[["item_id", "similar_item_id", "rank"]].values.tolist()
    assert actual["similarity"].tolist() == expected["similarity"].tolist()
    assert set(actual["source"]) == {"behaviour"} and set(actual["model_version"]) == {3}
