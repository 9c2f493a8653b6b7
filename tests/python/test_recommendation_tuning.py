"""Similarity v3's interaction weights (ratings, returns, cancellations), the never-recommend-back
rule, and that tuning chooses the best validation point of the grid it records."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ltv import recommendation_tuning as tuning
from ltv.recommend import synthetic_interactions


def frame(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=tuning.INTERACTION_COLUMNS)


def weights_of(interactions: pd.DataFrame, **config) -> dict:
    weighted = tuning.interaction_weights(interactions, {**tuning.default_config(), **config})
    return {(row.user_id, row.item_id): row.weight for row in weighted.itertuples()}


RATED = frame([
    # user, item, purchases, returned, cancelled, rating
    ("u", "a", 2, 0, 0, 5.0),
    ("u", "b", 1, 0, 0, 3.0),
    ("u", "c", 1, 0, 0, np.nan),
    ("u", "d", 1, 1, 0, 5.0),  # bought once, returned once: returned means no
    ("u", "e", 0, 0, 2, np.nan),
    ("v", "a", 1, 0, 0, 2.0),
    ("v", "b", 1, 0, 0, 2.0),
])


def test_ratings_ignored_by_default_and_returned_pairs_weigh_nothing():
    assert weights_of(RATED) == {("u", "a"): 2, ("u", "b"): 1, ("u", "c"): 1, ("v", "a"): 1, ("v", "b"): 1}


def test_positive_only_drops_pairs_rated_under_four_stars():
    assert weights_of(RATED, rating_mode="positive_only") == {("u", "a"): 2, ("u", "c"): 1}


def test_centered_ratings_weigh_by_the_distance_to_the_users_own_mean():
    # u's mean over a, b, d = (5 + 3 + 5) / 3 = 13/3: a -> 2 * (5 - 13/3 + 1), b -> 3 - 13/3 + 1 < 0 -> out.
    # v rates everything 2: each keeps its weight (factor 1).
    result = weights_of(RATED, rating_mode="centered")
    assert result == pytest.approx({("u", "a"): 2 * (5 - 13 / 3 + 1), ("u", "c"): 1, ("v", "a"): 1, ("v", "b"): 1})


def test_cancelled_lines_weigh_as_chosen():
    assert weights_of(RATED, cancelled_weight=0.5)[("u", "e")] == 1.0
    assert ("u", "e") not in weights_of(RATED, cancelled_weight=0.0)


def test_returned_and_cancelled_items_are_never_recommended_back():
    # Everyone else bought x, y, z and q together; w bought x, returned y and cancelled z. y and z are
    # the strongest co-purchases of x, yet only q may be recommended to w.
    rows = [(f"p{n}", item, 1, 0, 0, np.nan) for n in range(6) for item in ("x", "y", "z", "q")]
    rows += [(f"s{n}", item, 1, 0, 0, np.nan) for n in range(3) for item in ("x", "y", "z")]
    rows += [("w", "x", 1, 0, 0, np.nan), ("w", "y", 0, 1, 0, np.nan), ("w", "z", 0, 0, 1, np.nan)]
    interactions = frame(rows)
    for family in ("knn", "ease", "rp3beta"):
        config = {**tuning.default_config(), "family": family,
                  "parameters": {**tuning.DEFAULT_PARAMETERS[family], **({"l2": 1.0} if family == "ease" else {})},
                  "cancelled_weight": 0.5}
        recommendations = tuning.config_recommendations(interactions, config, top_n=10)
        assert recommendations.loc[recommendations["user_id"] == "w", "item_id"].tolist() == ["q"], family
        similarities = tuning.config_similarities(interactions, config)
        assert {"y", "z"} & set(similarities.loc[similarities["item_id"] == "x", "similar_item_id"]), family


def test_validation_purchases_leave_out_items_touched_before():
    earlier = frame([("u", "a", 1, 0, 0, np.nan), ("u", "b", 0, 1, 0, np.nan), ("u", "c", 0, 0, 1, np.nan)])
    later = pd.DataFrame({"user_id": ["u", "u", "u", "u", "v"], "item_id": ["a", "b", "c", "d", "a"]})
    assert tuning.first_purchases_after(earlier, later).values.tolist() == [["u", "d"], ["v", "a"]]


def test_the_search_keeps_the_best_point_and_records_every_point_tried():
    # A known score surface: EASE with l2 = 80 and centered ratings is the best point reachable.
    def score(config):
        value = {"knn": 0.20, "rp3beta": 0.25, "ease": 0.30}[config["family"]]
        value -= 0.001 * abs(config["parameters"].get("l2", 0) - 80) / 80
        value += {"ignore": 0.0, "positive_only": -0.01, "centered": 0.02}[config["rating_mode"]]
        return value

    train = frame([("u", "a", 1, 0, 0, 4.0), ("u", "b", 1, 0, 0, np.nan), ("v", "a", 1, 0, 0, np.nan)])
    validation = pd.DataFrame({"user_id": ["u"], "item_id": ["c"]})
    chosen, grid = tuning.tune(train, validation, score=score)
    assert [point["validation_ndcg_at_10"] for point in grid] == [score(point) for point in grid]
    best = max(grid, key=lambda point: point["validation_ndcg_at_10"])
    assert chosen == {key: best[key] for key in chosen}
    assert chosen["family"] == "ease" and chosen["parameters"]["l2"] == 80 and chosen["rating_mode"] == "centered"
    families = [point["family"] for point in grid]
    # Rating modes on default knn first (ignore is the default point), then the families, then EASE's axes.
    assert [point["rating_mode"] for point in grid[:3]] == ["ignore", "positive_only", "centered"]
    assert families[:5] == ["knn"] * 3 + ["rp3beta", "ease"] and set(families[5:]) == {"ease"}
    # No cancelled lines in train: the cancelled weight is not searched.
    assert {point["cancelled_weight"] for point in grid} == {0.0}


def test_tuning_on_data_chooses_the_best_validation_ndcg_it_measured():
    raw = synthetic_interactions(1500, 150, 12000, seed=3)
    raw["period"] = np.random.default_rng(1).random(len(raw)) < 0.7
    def counts(rows):
        grouped = rows.groupby(["user_id", "item_id"]).size().rename("purchases").reset_index()
        return grouped.assign(returned=0, cancelled=0, rating=np.nan)
    train, later = counts(raw[raw["period"]]), counts(raw[~raw["period"]])
    validation = tuning.first_purchases_after(train, later)
    chosen, grid = tuning.tune(train, validation)
    assert len(grid) >= 8
    best = max(grid, key=lambda point: point["validation_ndcg_at_10"])
    assert chosen == {key: best[key] for key in chosen}
    # The recorded score is the evaluator's NDCG@10 of that configuration on the sampled users.
    _, users = tuning.tuning_sample(train, validation)
    assert tuning.validation_ndcg(train, validation, users, chosen) == pytest.approx(best["validation_ndcg_at_10"])
    assert not math.isnan(best["validation_ndcg_at_10"]) and best["validation_ndcg_at_10"] > 0


def test_similarities_are_scaled_into_zero_one_without_changing_any_ranking():
    raw = synthetic_interactions(300, 40, 2500, seed=4)
    interactions = raw.groupby(["user_id", "item_id"]).size().rename("purchases").reset_index()
    interactions = interactions.assign(returned=0, cancelled=0, rating=np.nan)
    config = {**tuning.default_config(), "family": "ease", "parameters": {"top_k": 10, "l2": 5.0}}
    similarities = tuning.config_similarities(interactions, config)
    assert similarities["similarity"].max() == 1.0 and (similarities["similarity"] > 0).all()
    assert (similarities.groupby("item_id")["rank"].apply(lambda r: list(r) == list(range(1, len(r) + 1)))).all()
    assert (similarities["item_id"] != similarities["similar_item_id"]).all()


def test_a_rating_without_a_purchase_is_an_interaction_unless_ratings_are_ignored():
    rated_only = frame([("u", "a", 0, 0, 0, 5.0), ("u", "b", 0, 0, 0, 3.0), ("u", "c", 1, 0, 0, np.nan)])
    assert weights_of(rated_only) == {("u", "c"): 1}
    assert weights_of(rated_only, rating_mode="positive_only") == {("u", "a"): 1, ("u", "c"): 1}
    # mean of 5 and 3 is 4: a -> 1 * (5 - 4 + 1) = 2, b -> 3 - 4 + 1 = 0 (out)
    assert weights_of(rated_only, rating_mode="centered") == {("u", "a"): 2, ("u", "c"): 1}
    # Rated items are had: v3 never recommends them, whatever they weigh.
    assert set(map(tuple, tuning.had_pairs(rated_only).values.tolist())) == {("u", "a"), ("u", "b"), ("u", "c")}


@pytest.mark.parametrize("popularity_weight", [0.05, 4.0])
def test_blend_on_integer_codes_equals_the_blend_on_text_ids(popularity_weight):
    """blended_weights sums the popularity blend into each pair by hand-made pair keys when the ids are
    integer codes: the same rows, in the same order, with the same sums as on text ids whose order is
    the codes' order (zero-padded), and by hand for one pair."""
    rng = np.random.default_rng(5)
    items, similar = np.nonzero(rng.random((40, 40)) < 0.3)
    keep = items != similar
    similarities = pd.DataFrame({"item_id": items[keep], "similar_item_id": similar[keep],
                                 "similarity": np.round(rng.random(int(keep.sum())), 12)})
    popularity = pd.DataFrame({"item_id": np.arange(40), "popularity_score": rng.integers(1, 30, 40)})
    sources = np.array([3, 7, 7, 11, 39])
    coded = tuning.blended_weights(similarities, sources, popularity, popularity_weight)

    def text(ids):
        return pd.Series(ids).map("i{:03d}".format)

    texted = tuning.blended_weights(
        similarities.assign(item_id=text(similarities["item_id"]), similar_item_id=text(similarities["similar_item_id"])),
        text(sources), popularity.assign(item_id=text(popularity["item_id"])), popularity_weight)
    assert coded["item_id"].map("i{:03d}".format).tolist() == texted["item_id"].tolist()
    assert coded["similar_item_id"].map("i{:03d}".format).tolist() == texted["similar_item_id"].tolist()
    assert coded["similarity"].tolist() == texted["similarity"].tolist()
    top = popularity.sort_values(["popularity_score", "item_id"], ascending=[False, True], kind="stable").head(20)
    best = top.iloc[0]
    source = next(int(s) for s in sources if s != best["item_id"])
    base = similarities.loc[(similarities["item_id"] == source) & (similarities["similar_item_id"] == best["item_id"]),
                            "similarity"].sum()
    row = coded.loc[(coded["item_id"] == source) & (coded["similar_item_id"] == best["item_id"])]
    assert row["similarity"].item() == np.round(base + popularity_weight * 1.0, 12)
