"""Similarity v3: per-shop choice of item weights (item-kNN, EASE, RP3beta) and of what counts as a
positive, on a time-based validation split carved from the training period only.

A configuration is a dict: {"family": knn|ease|rp3beta, "parameters": {...}, "rating_mode": ...,
"cancelled_weight": ...}. From it:

    weight(u, i) = purchases + cancelled_weight * cancelled lines        (completed orders only count
                   as purchases; a pair the user returned is 0: returned means no)
                   then, for a pair the user rated (rating_mode):
                     ignore        the rating plays no part (a rated pair never bought weighs 0)
                     positive_only the pair weighs at least 1 (a rating is an interaction: on a rating
                                   site it is the only one), and a rating under 4 stars sets it to 0
                     centered      at least 1, times max(0, rating - the user's mean rating + 1): an
                                   item rated at the user's own average keeps its weight, each star
                                   above adds one, one star under the average drops it
    r(u, i) = log1p(weight(u, i))          (20 repeat purchases count ~3x one, not 20x)
    score(u, j) = sum over i of r(u, i) * w'(i, j)  with w the family's top-K item weights, scaled so
                   the largest is 1, and w'(i, j) = w(i, j) + popularity_weight * pop(j) / max pop for the
                   POPULAR_ITEMS most bought items j (else w): a popularity blend that is still an
                   item -> item weight, so because_item_id keeps its meaning. It counts most where the
                   item weights are weak or missing, i.e. for users with little history.

Cancelled lines: an order cancelled before it shipped says the user wanted the item (weak positive)
or changed their mind (ignore); cancelled_weight is chosen on validation (0 or 0.5). Whatever it is,
an item the user returned or cancelled is never recommended back to them (like one they bought).

Tuning: train on the period up to validation_cutoff_date, validate on the items each (sampled) user
bought for the first time in (validation_cutoff_date, cutoff_date], NDCG@10 by
ranking_metrics.evaluate_recommendations. Coordinate search, capped: the rating mode (when the shop
has ratings) and the cancelled weight (when it has cancellations) on default item-kNN, then each
family at its defaults, one pass over each parameter of the best family, then the popularity blend.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from ltv.item_weights import EASE_MAX_ITEMS, fit_item_weights
from ltv.ranking_metrics import evaluate_recommendations
from ltv.recommend import buyers_per_item, recommend_items
from ltv.similarity import SIMILARITY_COLUMNS, SIMILARITY_DECIMALS, user_item_matrix

RATING_MODES = ("ignore", "positive_only", "centered")
POSITIVE_RATING = 4
CANCELLED_WEIGHTS = (0.0, 0.5)
POPULARITY_WEIGHTS = (0.0, 0.05, 0.25, 1.0, 4.0)
# Popular items each item's weights are blended with: twice a list's length is enough for the
# blend to reach every list, and keeps the extra weights at 20 per item.
POPULAR_ITEMS = 20
DEFAULT_PARAMETERS = {
    "knn": {"top_k": 50, "bm25_k1": 1.2, "bm25_b": 0.75, "shrink": 0.0},
    "ease": {"top_k": 100, "l2": 20.0},
    "rp3beta": {"top_k": 100, "alpha": 1.0, "beta": 0.5},
}
# One pass over each axis, the other parameters held at the best so far.
PARAMETER_AXES = {
    "knn": {"top_k": [20, 50, 100, 200], "shrink": [0.0, 10.0, 50.0], "bm25_k1": [0.6, 1.2, 2.0],
            "bm25_b": [0.25, 0.75, 1.0]},
    "ease": {"l2": [5.0, 20.0, 80.0, 320.0], "top_k": [50, 100, 200]},
    "rp3beta": {"alpha": [0.5, 0.75, 1.0], "beta": [0.0, 0.25, 0.5, 0.75], "top_k": [50, 100, 200]},
}
# Caps that keep tuning's cost flat in the shop's size: validation is scored on at most this many
# users (a fixed-seed sample), and the tuning fits see at most TUNING_MAX_TRAIN_USERS users' rows.
TUNING_VALIDATION_USERS = 2_000
TUNING_MAX_TRAIN_USERS = 20_000
LIST_LENGTH = 10
INTERACTION_COLUMNS = ["user_id", "item_id", "purchases", "returned", "cancelled", "rating"]


# The columns of int_user_item_interactions_aggregated that hold INTERACTION_COLUMNS for each period.
PERIOD_COLUMNS = {
    "validation": ("purchases_before_validation_cutoff", "returned_before_validation_cutoff",
                   "cancelled_before_validation_cutoff", "rating_before_validation_cutoff"),
    "cutoff": ("purchases_before_cutoff", "returned_before_cutoff", "cancelled_before_cutoff", "rating_before_cutoff"),
    "all": ("purchases_total", "returned_total", "cancelled_total", "rating_latest"),
}


def period_interactions(aggregated: pd.DataFrame, period: str) -> pd.DataFrame:
    """INTERACTION_COLUMNS for one period ("validation", "cutoff" or "all") from the aggregated
    interactions table; pairs with nothing in the period are left out."""
    names = dict(zip(INTERACTION_COLUMNS[2:], PERIOD_COLUMNS[period], strict=True))
    # Column by column on arrays: the frame-wide fillna, row sums and .loc took 2 s on 5M rows.
    columns = {name: aggregated[names[name]].fillna(0).to_numpy() for name in ("purchases", "returned", "cancelled")}
    rating = pd.to_numeric(aggregated[names["rating"]], errors="coerce").astype(np.float64).to_numpy()
    active = (columns["purchases"] + columns["returned"] + columns["cancelled"] > 0) | ~np.isnan(rating)
    return pd.DataFrame({"user_id": aggregated["user_id"].array[active], "item_id": aggregated["item_id"].array[active],
                         **{name: values[active] for name, values in columns.items()}, "rating": rating[active]},
                        copy=False)  # fresh arrays: no copy into blocks (similarity._similarity_frame)


def default_config() -> dict:
    return {"family": "knn", "parameters": dict(DEFAULT_PARAMETERS["knn"]), "rating_mode": "ignore",
            "cancelled_weight": 0.0, "popularity_weight": 0.0}


def interaction_weights(interactions: pd.DataFrame, config: dict) -> pd.DataFrame:
    """DataFrame[user_id, item_id, weight] (weight > 0 only) from INTERACTION_COLUMNS, per the config."""
    frame = interactions
    weight = frame["purchases"].astype(float) + float(config.get("cancelled_weight", 0.0)) * frame["cancelled"]
    weight = weight.where(frame["returned"].fillna(0) <= 0, 0.0)
    rating = pd.to_numeric(frame["rating"], errors="coerce")
    mode = config.get("rating_mode", "ignore")
    if mode != "ignore":
        weight = weight.where(rating.isna() | (frame["returned"].fillna(0) > 0), weight.clip(lower=1.0))
    if mode == "positive_only":
        weight = weight.where(~(rating < POSITIVE_RATING), 0.0)
    elif mode == "centered":
        user_mean = rating.groupby(frame["user_id"]).transform("mean")
        factor = (rating - user_mean + 1.0).clip(lower=0.0)
        weight = weight.where(rating.isna(), weight * factor)
    elif mode != "ignore":
        raise ValueError(f"unknown rating_mode {mode!r}; expected one of {RATING_MODES}")
    out = pd.DataFrame({"user_id": frame["user_id"], "item_id": frame["item_id"], "weight": weight}, copy=False)
    return out.loc[out["weight"] > 0].reset_index(drop=True)


def excluded_pairs(interactions: pd.DataFrame) -> pd.DataFrame:
    """(user, item) pairs never recommended: bought, returned or cancelled."""
    touched = (interactions["purchases"] > 0) | (interactions["returned"] > 0) | (interactions["cancelled"] > 0)
    return interactions.loc[touched, ["user_id", "item_id"]].reset_index(drop=True)


def had_pairs(interactions: pd.DataFrame) -> pd.DataFrame:
    """What v3 never recommends: the excluded pairs and the items the user rated (they had it)."""
    had = (interactions["purchases"] > 0) | (interactions["returned"] > 0) | (interactions["cancelled"] > 0)
    had |= interactions["rating"].notna()
    return interactions.loc[had, ["user_id", "item_id"]].reset_index(drop=True)


def config_similarities(interactions: pd.DataFrame, config: dict, item_ids=None,
                        ease_cache: dict | None = None) -> pd.DataFrame:
    """The configuration's top-K item weights as a similarity table (SIMILARITY_COLUMNS).

    similarity = w(i, j) / the largest w anywhere, so it lies in (0, 1] like v1's and v2's cosines;
    one common factor leaves every user's ranking, and the because item, as they were."""
    weighted = interaction_weights(interactions, config)
    item_index = None if item_ids is None else pd.Index(pd.unique(pd.Series(item_ids).dropna())).sort_values()
    matrix, _, item_index = user_item_matrix(weighted, item_index=item_index)
    matrix.data = np.log1p(matrix.data)
    items, similar, weights = fit_item_weights(matrix, config["family"], config["parameters"], ease_cache)
    if weights.size:
        weights = np.round(weights / weights.max(), SIMILARITY_DECIMALS)
    keep = weights > 0
    items, similar, weights = items[keep], similar[keep], weights[keep]
    per_item = np.bincount(items, minlength=len(item_index)) if items.size else np.zeros(len(item_index), np.int64)
    rank = np.arange(items.size) - np.repeat(np.cumsum(per_item) - per_item, per_item) + 1
    return pd.DataFrame({"item_id": item_index.take(items), "similar_item_id": item_index.take(similar),
                         "similarity": weights.astype(np.float64), "rank": rank.astype(np.int64)},
                        columns=SIMILARITY_COLUMNS, copy=False)


def popularity_of(interactions: pd.DataFrame) -> pd.DataFrame:
    """Distinct buyers (completed purchases) per item: the fallback list."""
    return buyers_per_item(interactions, "purchases")


def blended_weights(similarities: pd.DataFrame, items, popularity: pd.DataFrame, popularity_weight: float) -> pd.DataFrame:
    """DataFrame[item_id, similar_item_id, similarity] of w'(i, j) (see the module docstring) for the
    source items `items`; without a blend, the similarities as they are."""
    weights = similarities[["item_id", "similar_item_id", "similarity"]]
    if popularity_weight <= 0 or popularity.empty:
        return weights
    top = popularity.sort_values(["popularity_score", "item_id"], ascending=[False, True], kind="stable")
    top = top.head(POPULAR_ITEMS)
    share = top["popularity_score"].to_numpy(np.float64) / float(top["popularity_score"].max())
    sources = pd.unique(pd.Series(items).dropna())
    blend = pd.DataFrame({
        "item_id": np.repeat(sources, len(top)),
        "similar_item_id": np.tile(top["item_id"].to_numpy(), len(sources)),
        "similarity": np.tile(popularity_weight * share, len(sources)),
    })
    blend = blend.loc[blend["item_id"] != blend["similar_item_id"]]
    summed = _summed_integer_pairs(weights, blend)
    if summed is not None:
        return summed
    combined = pd.concat([weights, blend], ignore_index=True)
    # Summed per pair in row order and sorted by the pair, as groupby(sort=True).sum() would, on one
    # integer per pair: the two-column groupby of ten million rows took seconds.
    ids = pd.Index(pd.unique(pd.concat([combined["item_id"], combined["similar_item_id"]]))).sort_values()
    sources, targets = ids.get_indexer(combined["item_id"]), ids.get_indexer(combined["similar_item_id"])
    pair_keys, pair = np.unique(sources.astype(np.int64) * len(ids) + targets, return_inverse=True)
    summed = np.bincount(pair.reshape(-1), weights=combined["similarity"].to_numpy(np.float64), minlength=pair_keys.size)
    return pd.DataFrame({"item_id": ids.take(pair_keys // len(ids)), "similar_item_id": ids.take(pair_keys % len(ids)),
                         "similarity": np.round(summed, SIMILARITY_DECIMALS)}, copy=False)


def _summed_integer_pairs(weights: pd.DataFrame, blend: pd.DataFrame) -> pd.DataFrame | None:
    """blended_weights' sum per pair when the ids are small non-negative integers (the warehouse
    models' codes): the pair key is computed from the ids themselves, with no index of the ids, no
    hash look-ups and no concatenated frame (about 1 GB of temporaries for v3's ten million rows).
    None for other ids."""
    columns = [frame[name].to_numpy() for frame in (weights, blend) for name in ("item_id", "similar_item_id")]
    if not all(column.dtype.kind in "iu" for column in columns):
        return None
    if any(column.size and column.min() < 0 for column in columns):
        return None
    size = max((int(column.max()) + 1 for column in columns if column.size), default=1)
    if size > 3_000_000_000:  # a key of two ids must fit in 63 bits
        return None
    keys = np.concatenate([columns[0].astype(np.int64) * size + columns[1], columns[2].astype(np.int64) * size + columns[3]])
    values = np.concatenate([weights["similarity"].to_numpy(np.float64), blend["similarity"].to_numpy(np.float64)])
    pair_keys, pair = np.unique(keys, return_inverse=True)
    del keys
    summed = np.bincount(pair.reshape(-1), weights=values, minlength=pair_keys.size)
    return pd.DataFrame({"item_id": pair_keys // size, "similar_item_id": pair_keys % size,
                         "similarity": np.round(summed, SIMILARITY_DECIMALS)}, copy=False)


def config_recommendations(interactions: pd.DataFrame, config: dict, top_n: int, users=None,
                           similarities: pd.DataFrame | None = None, item_ids=None,
                           ease_cache: dict | None = None) -> pd.DataFrame:
    """Top-n per user under a configuration, never a bought, returned or cancelled item; users
    without a positive score get the most popular items (recommend.recommend_items)."""
    if similarities is None:
        similarities = config_similarities(interactions, config, item_ids, ease_cache)
    scoring = interactions
    if users is not None:
        scored = interactions["user_id"].isin(users).to_numpy()
        if not scored.all():  # every user scored (ml_user_recommendations_v3): no copy of the rows
            scoring = interactions.loc[scored]
    weighted = interaction_weights(scoring, config)
    if users is not None:  # only the scored users' items' lists can count (fewer rows to blend and code)
        listed = similarities["item_id"].isin(pd.unique(weighted["item_id"])).to_numpy()
        if not listed.all():  # no copy of ten million rows when every list counts
            similarities = similarities.loc[listed]
    popularity = popularity_of(interactions)
    owned = had_pairs(scoring)
    # The rows and lists go before the scoring, where the memory peaks (a caller that passes them
    # inline, as ml_user_recommendations_v3 does, holds no other reference).
    del interactions, scoring
    weights = blended_weights(similarities, weighted["item_id"], popularity, float(config.get("popularity_weight", 0.0)))
    del similarities
    return recommend_items(
        weighted, weights, top_n=top_n, owned=owned, popularity=popularity,
        all_user_ids=users, interaction_transform="log1p")


def first_purchases_after(earlier: pd.DataFrame, later_purchases: pd.DataFrame) -> pd.DataFrame:
    """The later purchases of items the user had not bought, returned or cancelled earlier: the only
    ones a recommender that never shows those items can hit."""
    seen = excluded_pairs(earlier)
    merged = later_purchases[["user_id", "item_id"]].drop_duplicates().merge(
        seen.assign(_seen=True), on=["user_id", "item_id"], how="left")
    return merged.loc[merged["_seen"].isna(), ["user_id", "item_id"]].reset_index(drop=True)


def candidate_families(n_items: int) -> list[str]:
    return ["knn", "rp3beta"] + (["ease"] if n_items <= EASE_MAX_ITEMS else [])


def _sample(values: np.ndarray, size: int, seed: int) -> np.ndarray:
    values = np.sort(values)
    if values.size <= size:
        return values
    return np.sort(np.random.default_rng(seed).choice(values, size=size, replace=False))


def tuning_sample(train: pd.DataFrame, validation_purchases: pd.DataFrame, seed: int = 0):
    """(train rows the tuning fits see, validation users scored): validation users are those with a
    validation purchase and a training row, at most TUNING_VALIDATION_USERS of them; the fits see
    those users plus others up to TUNING_MAX_TRAIN_USERS users."""
    train_users = pd.unique(train["user_id"])
    validation_users = np.intersect1d(pd.unique(validation_purchases["user_id"]), train_users)
    chosen = _sample(validation_users, TUNING_VALIDATION_USERS, seed)
    if train_users.size > TUNING_MAX_TRAIN_USERS:
        others = np.setdiff1d(train_users, chosen)
        kept = np.concatenate([chosen, _sample(others, TUNING_MAX_TRAIN_USERS - chosen.size, seed + 1)])
        train = train.loc[train["user_id"].isin(kept)]
    return train, chosen


def validation_ndcg(train: pd.DataFrame, validation_purchases: pd.DataFrame, users: np.ndarray, config: dict,
                    ease_cache: dict | None = None) -> float:
    recommendations = config_recommendations(train, config, LIST_LENGTH, users=users, ease_cache=ease_cache)
    truth = validation_purchases.loc[validation_purchases["user_id"].isin(users)]
    return float(evaluate_recommendations(recommendations, truth, k=LIST_LENGTH)["ndcg_at_k"] or 0.0)


def tune(train: pd.DataFrame, validation_purchases: pd.DataFrame, seed: int = 0, score=None) -> tuple[dict, list[dict]]:
    """Choose a configuration; returns (chosen config, the grid: one dict per point tried with its
    validation_ndcg_at_10, in the order tried). Ties go to the point tried first.

    train: INTERACTION_COLUMNS up to the validation cut-off; validation_purchases: DataFrame[user_id,
    item_id] of first purchases in the validation window (first_purchases_after). score(config) can
    replace the validation NDCG (tests use it to check the search itself)."""
    fit_train, users = tuning_sample(train, validation_purchases, seed)
    if score is None:
        if users.size == 0:  # nothing to validate on: the defaults, and a grid saying so
            return default_config(), []
        ease_cache: dict = {}
        score = lambda config: validation_ndcg(fit_train, validation_purchases, users, config, ease_cache)  # noqa: E731
    grid: list[dict] = []
    seen: dict[str, float] = {}

    def tried(config: dict) -> float:
        key = repr(sorted((k, repr(v)) for k, v in config.items()))
        if key not in seen:
            seen[key] = score(config)
            grid.append({**copy.deepcopy(config), "validation_ndcg_at_10": seen[key]})
        return seen[key]

    best, best_score = default_config(), tried(default_config())

    def search(name: str, values: list, in_parameters: bool = False) -> None:
        nonlocal best, best_score
        for value in values:
            config = copy.deepcopy(best)
            (config["parameters"] if in_parameters else config)[name] = value
            result = tried(config)
            if result > best_score:
                best, best_score = config, result

    # What counts as a positive first: on a rating site the ratings are nearly all the signal, so
    # the families must be compared on them.
    if train["rating"].notna().any():
        search("rating_mode", list(RATING_MODES))
    if (train["cancelled"] > 0).any():
        search("cancelled_weight", list(CANCELLED_WEIGHTS))
    for family in candidate_families(int(train["item_id"].nunique())):
        config = {**copy.deepcopy(best), "family": family, "parameters": dict(DEFAULT_PARAMETERS[family])}
        result = tried(config)
        if result > best_score:
            best, best_score = config, result
    for name, values in PARAMETER_AXES[best["family"]].items():
        search(name, values, in_parameters=True)
    search("popularity_weight", list(POPULARITY_WEIGHTS))
    return best, grid
