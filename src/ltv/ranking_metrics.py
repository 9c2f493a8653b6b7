"""Offline quality of top-N recommendations: ranking metrics against held-out purchases.

All metrics use binary relevance (an item is relevant to a user if the user bought it in the test
period) and are averaged over the evaluated users: every user with at least one test purchase.
A user without recommendations counts with zeros, so a recommender cannot look better by staying
silent for hard users.

`evaluate_recommendations` computes the numbers on whatever it is given; `offline_evaluation`, which
feeds the run registry, withholds them (None, never 0) where they cannot mean anything: a catalogue
of fewer than two items, or fewer than MIN_EVALUATED_USERS evaluated users.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sparse

from ltv.content_similarity import content_similarities
from ltv.metrics import MIN_EVALUATED_USERS
from ltv.recommend import recommend_items
from ltv.similarity import factorized, item_similarities

METRIC_NAMES = ("precision_at_k", "recall_at_k", "ndcg_at_k", "map_at_k", "catalogue_coverage")
# The metrics that are means over the evaluated users, each reported with its standard error.
USER_MEAN_METRICS = METRIC_NAMES[:4]
STANDARD_ERROR_NAMES = tuple(f"{name}_standard_error" for name in USER_MEAN_METRICS)
OFFLINE_METHODS = ("cosine", "bm25", "content", "popularity")
# Test users the offline evaluation scores (ml_recommendation_evaluation: a sample drawn by the seed,
# every test user in a shop with fewer). A user's NDCG@10 spreads by about 0.3, so 50,000 users
# pin the mean to a standard error near 0.0013, well under the 0.005-0.08 between the versions and
# popularity on the generated shops, while scoring all 355,000 test users of a 1M-user shop took
# over a minute.
EVALUATION_SAMPLE_USERS = 50_000


def sampled_users(user_ids, seed: int, size: int = EVALUATION_SAMPLE_USERS) -> set:
    """The evaluation's sample of test users: the `size` first by md5("<seed>:<user_id>") (then by
    id), all of them when there are no more. ml_recommendation_evaluation draws it in DuckDB with
    the same md5; this is its form for callers holding the ids in Python (the implicit reference)."""
    import hashlib

    users = pd.unique(pd.Series(user_ids).dropna().astype(str))
    if len(users) <= size:
        return set(users)
    ordered = sorted(users, key=lambda user: (hashlib.md5(f"{int(seed)}:{user}".encode()).hexdigest(), user))
    return set(ordered[:size])


def evaluate_recommendations(
    recommendations: pd.DataFrame,
    test_purchases: pd.DataFrame,
    k: int = 10,
    catalogue_size: int | None = None,
) -> dict:
    """Ranking metrics of recommendations (DataFrame[user_id, rank, item_id]) at cut-off k.

    For a user with relevant set T (distinct test items) and hits at ranks r <= k:
      precision_at_k = hits / k                   (k even when fewer than k items were recommended)
      recall_at_k    = hits / |T|
      ndcg_at_k      = sum over hits of 1/log2(r + 1), divided by the ideal sum over ranks
                       1..min(k, |T|)
      map_at_k       = sum over hits of (hits at ranks <= r) / r, divided by min(k, |T|)
    each averaged over users with at least one test purchase (users_evaluated), and each with its
    standard error (`<metric>_standard_error`): the standard deviation of the users' values
    (n - 1 in the denominator) / sqrt(users_evaluated), None with fewer than two users; the 95%
    interval is the metric +- 1.96 standard errors.
    catalogue_coverage = distinct items in anyone's top k / catalogue_size (default: the distinct
    items seen in recommendations or test purchases); a property of the lists, not a mean over
    users, it has no standard error. Metrics are None when no user is evaluated.
    """
    relevant = test_purchases[["user_id", "item_id"]].dropna().drop_duplicates()
    relevant_counts = relevant.groupby("user_id", sort=False).size()
    users_evaluated = int(relevant_counts.size)

    shown = recommendations.loc[recommendations["rank"] <= k, ["user_id", "item_id", "rank"]]
    shown = shown.sort_values(["user_id", "rank"], kind="stable").drop_duplicates(["user_id", "item_id"])
    if catalogue_size is None:
        catalogue_size = int(pd.concat([shown["item_id"], relevant["item_id"]]).nunique())
    coverage = float(shown["item_id"].nunique() / catalogue_size) if catalogue_size else 0.0
    if users_evaluated == 0:
        return {**dict.fromkeys(METRIC_NAMES[:-1]), "catalogue_coverage": coverage, "users_evaluated": 0,
                **dict.fromkeys(STANDARD_ERROR_NAMES)}

    hits = shown.merge(relevant, on=["user_id", "item_id"], how="inner").sort_values(
        ["user_id", "rank"], kind="stable"
    )
    rank = hits["rank"].to_numpy(np.float64)
    hits_so_far = hits.groupby("user_id", sort=False).cumcount().to_numpy() + 1
    hits = hits.assign(gain=1.0 / np.log2(rank + 1.0), precision_at_hit=hits_so_far / rank)
    per_user = hits.groupby("user_id").agg(
        hit_count=("item_id", "size"), dcg=("gain", "sum"), precision_sum=("precision_at_hit", "sum")
    )
    per_user = per_user.reindex(relevant_counts.index, fill_value=0.0)
    relevant_count = relevant_counts.to_numpy(np.float64)
    ideal_length = np.minimum(k, relevant_count)
    # Ideal DCG for n relevant items at the top: prefix sums of 1/log2(r + 1).
    ideal_prefix = np.concatenate(([0.0], np.cumsum(1.0 / np.log2(np.arange(1, k + 1) + 1.0))))
    ideal_dcg = ideal_prefix[ideal_length.astype(np.int64)]
    hit_count = per_user["hit_count"].to_numpy(np.float64)
    values = {
        "precision_at_k": hit_count / k,
        "recall_at_k": hit_count / relevant_count,
        "ndcg_at_k": per_user["dcg"].to_numpy(np.float64) / ideal_dcg,
        "map_at_k": per_user["precision_sum"].to_numpy(np.float64) / ideal_length,
    }
    return {
        **{name: float(np.mean(user_values)) for name, user_values in values.items()},
        "catalogue_coverage": coverage,
        "users_evaluated": users_evaluated,
        **{f"{name}_standard_error": _standard_error(user_values) for name, user_values in values.items()},
    }


def _standard_error(values: np.ndarray) -> float | None:
    """Standard error of the mean of `values`; None for fewer than two."""
    if values.size < 2:
        return None
    return float(np.std(values, ddof=1) / np.sqrt(values.size))


def _popularity(train_interactions: pd.DataFrame) -> pd.DataFrame:
    """Distinct users with a positive summed weight per item: the fallback ranking."""
    users = factorized(train_interactions["user_id"])[0].astype(np.int64)
    items, item_ids = factorized(train_interactions["item_id"])
    weights = pd.to_numeric(train_interactions["weight"], errors="coerce").fillna(0.0).to_numpy(np.float64)
    known = (users >= 0) & (items >= 0)
    n_items = max(len(item_ids), 1)
    if (weights >= 0).all():
        # A sum of non-negative weights is positive whatever the order iff one of them is: count the
        # distinct pairs with a positive weight (a sparse pattern, no hashing of the pairs).
        positive = known & (weights > 0)
        pattern = sparse.csr_matrix((np.ones(int(positive.sum())), (users[positive], items[positive])),
                                    shape=(int(users.max(initial=-1)) + 1, n_items))
        pattern.sum_duplicates()
        buyers = np.bincount(pattern.indices, minlength=len(item_ids))
    else:  # pairs numbered by hashing one combined integer, weights summed in row order
        pairs, pair_keys = pd.factorize(users[known] * n_items + items[known])
        summed = np.bincount(pairs, weights=weights[known], minlength=len(pair_keys))
        buyers = np.bincount(pair_keys[summed > 0] % n_items, minlength=len(item_ids))
    return pd.DataFrame({"item_id": item_ids[buyers > 0], "popularity_score": buyers[buyers > 0]}, copy=False)


def evaluation_verdict(metrics: dict, catalogue_size: int) -> dict:
    """The offline metrics of one method as the registry records them: a copy of `metrics`
    (evaluate_recommendations' keys) with metric_status added and, where they are undefined, the
    ranking metrics (precision, recall, NDCG, MAP at k and catalogue_coverage) and their standard
    errors set to None:

    * "degenerate_catalogue": fewer than 2 items in the catalogue; there is nothing to choose
      between, so every recommender is trivially perfect (a one-item shop scored NDCG 1.0);
    * "too_few_users": fewer than MIN_EVALUATED_USERS users with a test purchase;
    * "ok" otherwise.
    users_evaluated (and anything else, such as fallback_user_share) is kept.
    """
    metrics = dict(metrics)
    if catalogue_size < 2:
        status = "degenerate_catalogue"
    elif (metrics.get("users_evaluated") or 0) < MIN_EVALUATED_USERS:
        status = "too_few_users"
    else:
        status = "ok"
    if status != "ok":
        metrics.update(dict.fromkeys(METRIC_NAMES + STANDARD_ERROR_NAMES))
    metrics["metric_status"] = status
    return metrics


def offline_evaluation(
    train_interactions: pd.DataFrame,
    test_purchases: pd.DataFrame,
    items: pd.DataFrame,
    top_k: int = 50,
    top_n: int = 10,
    methods: tuple[str, ...] = OFFLINE_METHODS,
    bm25_k1: float = 1.2,
    bm25_b: float = 0.75,
    price_bands: int = 5,
    content_similarity_table: pd.DataFrame | None = None,
    excluded: pd.DataFrame | None = None,
    extra_runs: dict | None = None,
    test_users: int | None = None,
) -> list[dict]:
    """Fit each method on train, recommend top_n (never a train-owned item), score against test.

    content_similarity_table: precomputed content similarities (they depend on the catalogue only,
    not on the interactions, so the production table can be reused instead of computed again).
    excluded: DataFrame[user_id, item_id] never recommended besides the train items (e.g. items the
    user returned or cancelled before the cut-off).
    extra_runs: {method: (model_version, parameters, recommendations)} of recommenders fitted
    elsewhere (v3); their recommendations are judged here like the others.
    test_users: how many users the test period has, when test_purchases holds a sample of them
    (recorded as the metric test_users; default: the users of test_purchases).

    train_interactions: DataFrame[user_id, item_id, weight]; test_purchases: DataFrame[user_id,
    item_id] (later purchases); items: the catalogue (item_id plus the content attributes).
    Methods: "cosine" (item_similarity v1, binary strengths), "bm25" (v2, log1p strengths),
    "content" (attribute cosine), "popularity" (everyone gets the fallback list). Every method
    falls back to popularity for test users without a positive score, as in production.
    Recommendations are only computed for test users (the only ones scored), from similarities
    fitted on all of train. Returns one registry-ready dict per method, JSON-serialisable.

    Each run's metrics are `evaluate_recommendations` plus fallback_user_share, judged by
    `evaluation_verdict` (metric_status; metrics None when the catalogue has fewer than 2 items or
    fewer than MIN_EVALUATED_USERS users are evaluated), plus baseline_ndcg_at_k, the popularity
    baseline's ndcg_at_k (evaluated even when "popularity" is not among `methods`), and
    beats_baseline: ndcg_at_k > baseline_ndcg_at_k, None when either is None and for the
    popularity run itself (the baseline is not judged against itself).
    """
    unknown = set(methods) - set(OFFLINE_METHODS)
    if unknown:
        raise ValueError(f"unknown methods {sorted(unknown)}; expected some of {OFFLINE_METHODS}")
    test_user_ids = pd.Series(test_purchases["user_id"].dropna().unique())
    test_user_train = train_interactions[train_interactions["user_id"].isin(test_user_ids)]
    owned = test_user_train[["user_id", "item_id"]]
    if excluded is not None:
        owned = pd.concat([owned, excluded.loc[excluded["user_id"].isin(test_user_ids), ["user_id", "item_id"]]])
    extra_runs = extra_runs or {}
    source_items = pd.unique(test_user_train["item_id"])
    popularity = _popularity(train_interactions)
    catalogue_size = int(items["item_id"].nunique())
    empty_similarities = pd.DataFrame({"item_id": [], "similar_item_id": [], "similarity": []})

    def judge(recommendations: pd.DataFrame) -> dict:
        metrics = evaluate_recommendations(
            recommendations, test_purchases, k=top_n, catalogue_size=catalogue_size
        )
        served = recommendations.drop_duplicates("user_id")
        metrics["fallback_user_share"] = float(served["is_fallback"].mean()) if len(served) else 0.0
        metrics["test_users"] = int(len(test_user_ids) if test_users is None else test_users)
        return evaluation_verdict(metrics, catalogue_size)

    def evaluate(method: str) -> tuple[dict, dict]:
        parameters: dict = {"top_k": int(top_k), "top_n": int(top_n)}
        if method in extra_runs:
            return dict(extra_runs[method][1]), judge(extra_runs[method][2])
        if method in ("cosine", "bm25"):
            similarities = item_similarities(
                train_interactions, method=method, top_k=top_k, bm25_k1=bm25_k1, bm25_b=bm25_b
            )
            transform = "binary" if method == "cosine" else "log1p"
            if method == "bm25":
                parameters.update(bm25_k1=float(bm25_k1), bm25_b=float(bm25_b))
        elif method == "content":
            similarities = (content_similarity_table if content_similarity_table is not None
                            else content_similarities(items, top_k=top_k, price_bands=price_bands))
            transform = "binary"
            parameters["price_bands"] = int(price_bands)
        else:
            similarities = empty_similarities.astype(
                {
                    "item_id": items["item_id"].dtype,
                    "similar_item_id": items["item_id"].dtype,
                    "similarity": float,
                }
            )
            transform = "binary"
        parameters["interaction_transform"] = transform
        recommendations = recommend_items(
            test_user_train,
            # Only the lists of items the test users have can count (and the rest costs to code).
            similarities.loc[similarities["item_id"].isin(source_items)],
            top_n=top_n,
            owned=owned,
            popularity=popularity,
            all_user_ids=test_user_ids,
            interaction_transform=transform,
        )
        return parameters, judge(recommendations)

    # One method at a time: two at once (threads) took as long on the shared 2-core machine, with
    # 15% more CPU and 0.7 GB more memory at 1M users.
    evaluated = {method: evaluate(method) for method in (*methods, *extra_runs)}
    _, baseline_metrics = evaluated["popularity"] if "popularity" in evaluated else evaluate("popularity")
    baseline_ndcg = baseline_metrics["ndcg_at_k"]
    runs = []
    for method, (parameters, metrics) in evaluated.items():
        ndcg = metrics["ndcg_at_k"]
        metrics["baseline_ndcg_at_k"] = baseline_ndcg
        metrics["beats_baseline"] = (
            None if method == "popularity" or ndcg is None or baseline_ndcg is None else bool(ndcg > baseline_ndcg)
        )
        runs.append(
            {
                "model_name": "item_similarity",
                "model_version": extra_runs[method][0] if method in extra_runs
                else {"cosine": 1, "bm25": 2}.get(method, method),
                "method": method,
                "status": "fitted",
                "train_rows": int(len(train_interactions)),
                "holdout_rows": int(len(test_purchases)),
                "parameters": parameters,
                "metrics": metrics,
            }
        )
    return runs
