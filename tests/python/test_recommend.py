"""Recommendations against a dense brute-force score computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ltv.recommend as recommend_module
from ltv.recommend import RECOMMENDATION_COLUMNS, benchmark_recommendations, recommend_items
from ltv.similarity import item_similarities


def random_interactions(
    seed: int, n_users: int = 30, n_items: int = 20, density: float = 0.15
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    users, items = np.nonzero(rng.random((n_users, n_items)) < density)
    frame = pd.DataFrame(
        {
            "user_id": [f"u{user:02d}" for user in users],
            "item_id": [f"i{item}" for item in items],
            "weight": rng.integers(1, 5, users.size).astype(float),
        }
    )
    return pd.concat([frame, frame.sample(frac=0.2, random_state=seed)], ignore_index=True)


def brute_force(interactions, similarities, top_n, transform, owned=None, all_user_ids=()):
    """Dense R @ S, owned removed, sort (-score, item); because = argmax r * sim (smaller id on ties);
    users with no positive score get the most popular (distinct users) items they do not own."""
    summed = interactions.groupby(["user_id", "item_id"])["weight"].sum()
    summed = summed[summed > 0]
    items = sorted(
        set(interactions["item_id"]) | set(similarities["item_id"]) | set(similarities["similar_item_id"])
    )
    users = sorted(set(interactions["user_id"]) | set(all_user_ids))
    item_position = {item: position for position, item in enumerate(items)}
    strengths = np.zeros((len(users), len(items)))
    for (user, item), weight in summed.items():
        strengths[users.index(user), item_position[item]] = 1.0 if transform == "binary" else np.log1p(weight)
    similarity = np.zeros((len(items), len(items)))
    for row in similarities.itertuples():
        similarity[item_position[row.item_id], item_position[row.similar_item_id]] = row.similarity
    scores = np.round(strengths @ similarity, 12)
    owned_pairs = set(zip(summed.index.get_level_values(0), summed.index.get_level_values(1), strict=True))
    if owned is not None:
        owned_pairs = set(zip(owned["user_id"], owned["item_id"], strict=True))
    popularity = summed.reset_index().groupby("item_id")["user_id"].nunique()
    popular = sorted(popularity.index, key=lambda item: (-popularity[item], item))
    rows = []
    for user_position, user in enumerate(users):
        candidates = [
            (scores[user_position, position], item)
            for position, item in enumerate(items)
            if scores[user_position, position] > 0 and (user, item) not in owned_pairs
        ]
        candidates.sort(key=lambda pair: (-pair[0], pair[1]))
        for rank, (score, item) in enumerate(candidates[:top_n], start=1):
            contributions = strengths[user_position] * similarity[:, item_position[item]]
            because = items[int(np.flatnonzero(contributions == contributions.max())[0])]
            rows.append((user, rank, item, score, because, False))
        if not candidates:
            fallback = [item for item in popular if (user, item) not in owned_pairs][:top_n]
            rows.extend(
                (user, rank, item, float(popularity[item]), None, True)
                for rank, item in enumerate(fallback, 1)
            )
    return pd.DataFrame(rows, columns=RECOMMENDATION_COLUMNS)


def assert_same_recommendations(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(actual.columns) == RECOMMENDATION_COLUMNS
    key = ["user_id", "rank", "item_id", "is_fallback"]
    assert actual[key].astype(str).values.tolist() == expected[key].astype(str).values.tolist()
    assert actual["because_item_id"].isna().tolist() == expected["because_item_id"].isna().tolist()
    assert actual["because_item_id"].dropna().tolist() == expected["because_item_id"].dropna().tolist()
    np.testing.assert_allclose(actual["score"].to_numpy(), expected["score"].to_numpy(), rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    ("seed", "method", "transform", "top_k", "top_n", "chunk_users"),
    [
        (0, "cosine", "binary", 5, 4, 50_000),
        (1, "cosine", "binary", 3, 10, 4),
        (2, "bm25", "log1p", 6, 3, 1),
        (3, "bm25", "log1p", 50, 25, 7),
    ],
)
def test_matches_brute_force(seed, method, transform, top_k, top_n, chunk_users):
    interactions = random_interactions(seed)
    similarities = item_similarities(interactions, method=method, top_k=top_k)
    new_users = ["new_a", "new_b"]
    expected = brute_force(interactions, similarities, top_n, transform, all_user_ids=new_users)
    actual = recommend_items(
        interactions,
        similarities,
        top_n=top_n,
        all_user_ids=new_users,
        chunk_users=chunk_users,
        interaction_transform=transform,
    )
    assert_same_recommendations(actual, expected)
    assert set(actual.loc[actual["user_id"].isin(new_users), "is_fallback"]) == {True}
    # Never an owned (here: interacted) item.
    interacted = set(zip(interactions["user_id"], interactions["item_id"], strict=True))
    assert not any((row.user_id, row.item_id) in interacted for row in actual.itertuples())


def test_scoring_blocks_do_not_change_result(monkeypatch):
    """One user per block, or blocks cut by the output slots, give the brute force's answer."""
    import ltv.recommend_scoring as scoring

    interactions = random_interactions(6, n_users=40)
    similarities = item_similarities(interactions, method="bm25", top_k=6)
    expected = brute_force(interactions, similarities, 4, "log1p", all_user_ids=["new"])
    for chunk_users, slots in ((1, 10**6), (50_000, 9)):
        monkeypatch.setattr(scoring, "MAX_SLOTS_PER_BLOCK", slots)
        actual = recommend_items(interactions, similarities, top_n=4, all_user_ids=["new"],
                                 chunk_users=chunk_users, interaction_transform="log1p")
        assert_same_recommendations(actual, expected)


def test_explicit_owned_items_and_ties():
    interactions = pd.DataFrame(
        {"user_id": ["a", "a", "b", "c"], "item_id": ["x", "y", "x", "y"], "weight": [1.0, 1.0, 1.0, 1.0]}
    )
    similarities = pd.DataFrame(
        {
            "item_id": ["x", "x", "x", "y", "y", "y"],
            "similar_item_id": ["p", "q", "y", "p", "q", "x"],
            "similarity": [0.5, 0.2, 0.3, 0.5, 0.4, 0.3],
        }
    )
    # a owns q (bought elsewhere) but not y (only viewed): q is never shown, y may be.
    owned = pd.DataFrame({"user_id": ["a", "a", "b"], "item_id": ["x", "q", "x"]})
    result = recommend_items(interactions, similarities, top_n=3, owned=owned)
    user_a = result[result["user_id"] == "a"]
    # p: 0.5 from x + 0.5 from y (tie -> because x, the smaller id); y: 0.3 from x; q is owned.
    assert user_a["item_id"].tolist() == ["p", "y"]
    assert user_a["because_item_id"].tolist() == ["x", "x"]
    assert user_a["score"].tolist() == pytest.approx([1.0, 0.3])
    user_b = result[result["user_id"] == "b"]
    assert user_b["item_id"].tolist() == ["p", "y", "q"]
    user_c = result[result["user_id"] == "c"]
    # c: p 0.5, q 0.4, x 0.3 -- c owns only y (default would be interactions, owned is explicit here
    # and has no row for c, so nothing of c's is excluded but the item itself has no self-pair).
    assert user_c["item_id"].tolist() == ["p", "q", "x"]
    assert user_c["because_item_id"].tolist() == ["y", "y", "y"]


def test_fallback_respects_owned_and_popularity_and_no_padding():
    interactions = pd.DataFrame(
        {"user_id": ["a", "b", "b"], "item_id": ["x", "x", "y"], "weight": [1.0, 1.0, 1.0]}
    )
    similarities = pd.DataFrame({"item_id": ["x"], "similar_item_id": ["y"], "similarity": [0.9]})
    popularity = pd.DataFrame(
        {"item_id": ["x", "y", "z", "w", "v"], "popularity_score": [5.0, 3.0, 3.0, 0.0, 1.0]}
    )
    owned = pd.DataFrame({"user_id": ["a", "b", "b", "cold"], "item_id": ["x", "x", "y", "z"]})
    result = recommend_items(
        interactions, similarities, top_n=3, owned=owned, popularity=popularity, all_user_ids=["cold", "new"]
    )
    # a: one similarity recommendation, not padded to 3.
    assert result[result["user_id"] == "a"][["item_id", "is_fallback"]].values.tolist() == [["y", False]]
    # b owns both x and y: nothing positive left -> fallback, minus owned.
    assert result[result["user_id"] == "b"]["item_id"].tolist() == ["z", "v"]
    # cold owns z: x, y, v (w has popularity 0 and is never used). new: x, y, z (tie y/z -> y).
    assert result[result["user_id"] == "cold"]["item_id"].tolist() == ["x", "y", "v"]
    new = result[result["user_id"] == "new"]
    assert new["item_id"].tolist() == ["x", "y", "z"]
    assert new["score"].tolist() == [5.0, 3.0, 3.0]
    assert new["because_item_id"].isna().all() and new["is_fallback"].all()
    assert result["user_id"].tolist() == sorted(result["user_id"].tolist())


def test_user_owning_every_item_gets_no_rows():
    interactions = pd.DataFrame(
        {"user_id": ["a", "a", "b"], "item_id": ["x", "y", "x"], "weight": [1.0, 1.0, 1.0]}
    )
    similarities = item_similarities(interactions)
    result = recommend_items(interactions, similarities, top_n=5)
    assert "a" not in set(result["user_id"])
    assert result[result["user_id"] == "b"]["item_id"].tolist() == ["y"]


def test_integer_ids_keep_integer_types():
    interactions = pd.DataFrame(
        {"user_id": [1, 1, 2, 3], "item_id": [10, 11, 10, 12], "weight": [1.0, 1.0, 1.0, 1.0]}
    )
    similarities = item_similarities(interactions)
    result = recommend_items(interactions, similarities, top_n=2, all_user_ids=[4])
    assert result["user_id"].dtype == np.int64 and result["item_id"].dtype == np.int64
    assert str(result["because_item_id"].dtype) == "Int64"
    assert result[result["user_id"] == 4]["because_item_id"].isna().all()
    assert result[result["user_id"] == 2][["item_id", "because_item_id"]].values.tolist() == [[11, 10]]


def test_output_invariants_on_synthetic_data():
    interactions = recommend_module.synthetic_interactions(2_000, 300, 20_000, seed=1)
    similarities = item_similarities(interactions, top_k=20)
    result = recommend_items(interactions, similarities, top_n=10, chunk_users=300)
    assert (
        result.groupby("user_id")["rank"]
        .apply(lambda ranks: ranks.tolist() == list(range(1, len(ranks) + 1)))
        .all()
    )
    assert (result.groupby("user_id")["score"].diff().dropna() <= 0).all()
    assert not result.duplicated(["user_id", "item_id"]).any()
    owned = set(zip(interactions["user_id"], interactions["item_id"], strict=True))
    assert not any(pair in owned for pair in zip(result["user_id"], result["item_id"], strict=True))


def test_benchmark_runs_small():
    numbers = benchmark_recommendations(n_users=2_000, n_items=200, n_interactions=10_000, seed=0)
    assert set(numbers) >= {"seconds_similarity", "seconds_recommend", "peak_rss_mb"}
    assert numbers["recommendation_rows"] > 0


def test_no_interactions_at_all_gives_popularity_for_listed_users():
    interactions = pd.DataFrame(
        {"user_id": pd.Series([], dtype="str"), "item_id": pd.Series([], dtype="str"), "weight": []}
    )
    similarities = pd.DataFrame({"item_id": [], "similar_item_id": [], "similarity": []}).astype(
        {"item_id": "str", "similar_item_id": "str"}
    )
    popularity = pd.DataFrame({"item_id": ["x", "y"], "popularity_score": [1.0, 2.0]})
    result = recommend_items(
        interactions, similarities, top_n=5, popularity=popularity, all_user_ids={"u2", "u1"}
    )
    assert result[["user_id", "rank", "item_id"]].values.tolist() == [
        ["u1", 1, "y"],
        ["u1", 2, "x"],
        ["u2", 1, "y"],
        ["u2", 2, "x"],
    ]
    assert result["is_fallback"].all()


def test_unknown_interaction_transform_is_refused():
    interactions = random_interactions(0)
    with pytest.raises(ValueError, match="interaction_transform"):
        recommend_items(interactions, item_similarities(interactions), interaction_transform="sqrt")


@pytest.mark.parametrize("coded", [True, False])
def test_buyers_per_item_counts_the_rows_that_bought_as_a_groupby_would(coded):
    """Integer codes go through bincount, other ids through pandas: both equal the plain groupby
    (a hand count of a small case, then random frames with missing and zero purchases)."""
    from ltv.recommend import buyers_per_item

    small = pd.DataFrame({"item_id": [3, 0, 3, 5, 5, 5, 7], "purchases": [1, 2, 0, np.nan, 4, 1, -1]})
    if not coded:
        small["item_id"] = small["item_id"].map(lambda code: f"I{code}")
    expected_items = [0, 3, 5] if coded else ["I0", "I3", "I5"]
    counted = buyers_per_item(small, "purchases")
    assert counted["item_id"].tolist() == expected_items and counted["popularity_score"].tolist() == [1, 1, 2]
    rng = np.random.default_rng(7)
    for rows in (0, 1, 500):
        frame = pd.DataFrame({"item_id": rng.integers(0, 40, rows),
                              "purchases": rng.choice([0.0, 1.0, 3.0, np.nan], rows)})
        if not coded:
            frame["item_id"] = frame["item_id"].map(lambda code: f"I{code:02d}")
        reference = frame.loc[frame["purchases"] > 0].groupby("item_id").size().rename("popularity_score").reset_index()
        pd.testing.assert_frame_equal(buyers_per_item(frame, "purchases"), reference, check_index_type=False)
