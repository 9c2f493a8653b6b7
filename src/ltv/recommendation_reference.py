"""The outside reference for recommendations: implicit's BM25 item-kNN, on ltv's split and evaluator.

implicit (benfred/implicit 0.7.x) `implicit.nearest_neighbours.BM25Recommender(K, K1=1.2, B=0.75)`:
its documented BM25 weighting of the items x users matrix, top-K neighbours per item, and a user's
score = the raw dot product of their row with the neighbour lists. It is fitted on the same
completed-purchase counts ltv trains on, K is chosen on the same validation split as v3's tuning
(train <= validation cut-off, first purchases in the validation window, the same sampled users), and
the chosen K is refitted on the training period and scored once on the test purchases with
ranking_metrics.evaluate_recommendations. Like ltv, a user with no positive score (no history) gets
the most popular items they have not bought, so the comparison is about the item-kNN itself.

implicit is a development dependency (the `dev` extra): it is imported here only, never at run time.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sparse

from ltv.ranking_metrics import evaluate_recommendations, sampled_users
from ltv.similarity import user_item_matrix

IMPLICIT_K_GRID = (20, 50, 100, 200)
IMPLICIT_K1, IMPLICIT_B = 1.2, 0.75


def _popular_order(train: pd.DataFrame, item_index: pd.Index) -> np.ndarray:
    buyers = train.loc[train["weight"] > 0].groupby("item_id")["user_id"].nunique()
    counts = np.zeros(len(item_index))
    counts[item_index.get_indexer(buyers.index)] = buyers.to_numpy(np.float64)
    candidates = np.flatnonzero(counts > 0)
    return candidates[np.lexsort((candidates, -counts[candidates]))]


def implicit_bm25_recommendations(train: pd.DataFrame, users, k: int, top_n: int = 10) -> pd.DataFrame:
    """DataFrame[user_id, rank, item_id] from implicit's BM25Recommender(K=k) fitted on train
    (DataFrame[user_id, item_id, weight], weights summed per pair), for `users`; never a train item."""
    from implicit.nearest_neighbours import BM25Recommender

    users = pd.Index(pd.unique(pd.Series(users).dropna())).sort_values()
    matrix, user_index, item_index = user_item_matrix(train, extra_user_ids=(pd.Series(users),))
    model = BM25Recommender(K=k, K1=IMPLICIT_K1, B=IMPLICIT_B, num_threads=1)
    with warnings.catch_warnings():  # implicit converts its own BM25-weighted COO matrix and says so
        warnings.simplefilter("ignore")
        model.fit(sparse.csr_matrix(matrix, dtype=np.float32), show_progress=False)
    codes = user_index.get_indexer(users)
    ids, scores = model.recommend(codes, sparse.csr_matrix(matrix[codes], dtype=np.float32), N=top_n,
                                  filter_already_liked_items=True)
    popular = _popular_order(train, item_index)
    rows = []
    for position, user_code in enumerate(codes):
        chosen = [int(item) for item, score in zip(ids[position], scores[position], strict=True)
                  if item >= 0 and np.isfinite(score) and score > 0]
        if not chosen:  # no history: the same popularity fallback ltv gives
            owned = set(matrix.indices[matrix.indptr[user_code]:matrix.indptr[user_code + 1]].tolist())
            chosen = [int(item) for item in popular if item not in owned][:top_n]
        rows += [(users[position], rank, item_index[item]) for rank, item in enumerate(chosen, start=1)]
    return pd.DataFrame(rows, columns=["user_id", "rank", "item_id"])


def implicit_bm25_evaluation(
    validation_train: pd.DataFrame,
    validation_purchases: pd.DataFrame,
    train: pd.DataFrame,
    test_purchases: pd.DataFrame,
    validation_users=None,
    k_grid: tuple[int, ...] = IMPLICIT_K_GRID,
    top_n: int = 10,
    catalogue_size: int | None = None,
) -> dict:
    """Choose K on validation, refit on train, score once on test.

    validation_train / train: DataFrame[user_id, item_id, weight] up to the validation cut-off / the
    cut-off; validation_purchases / test_purchases: DataFrame[user_id, item_id], the first purchases
    in each window; validation_users: the users validation is scored on (default: every user with a
    validation purchase). Returns {"k": chosen K, "validation_ndcg_at_10": {K: NDCG}, "metrics":
    evaluate_recommendations(...) on the test users}.
    """
    if validation_users is None:
        validation_users = pd.unique(validation_purchases["user_id"])
    truth = validation_purchases.loc[validation_purchases["user_id"].isin(validation_users)]
    scores = {}
    for k in k_grid:
        recommendations = implicit_bm25_recommendations(validation_train, validation_users, k, top_n)
        scores[int(k)] = float(evaluate_recommendations(recommendations, truth, k=top_n)["ndcg_at_k"] or 0.0)
    chosen = max(scores, key=lambda k: (scores[k], -k)) if scores else k_grid[0]
    recommendations = implicit_bm25_recommendations(train, pd.unique(test_purchases["user_id"]), chosen, top_n)
    metrics = evaluate_recommendations(recommendations, test_purchases, k=top_n, catalogue_size=catalogue_size)
    return {"k": int(chosen), "validation_ndcg_at_10": scores, "metrics": metrics}


def warehouse_reference_comparison(connection, top_n: int = 10) -> dict:
    """v1, v2, v3, the champion and popularity NDCG@10 from a built warehouse's
    ml_recommendation_evaluation / fct_recommendation_versions, beside implicit's BM25 item-kNN on
    the very same split: trained on completed purchases up to the cut-off (K chosen on the
    validation split v3 was tuned on, same sampled users), tested on the same first purchases of
    the same (sampled) test users.

    connection: a DuckDB connection to the warehouse (read-only is enough). Returns a dict with
    ndcg_at_10 per row name (v1, v2, v3, champion, popularity, implicit_bm25), implicit_k,
    champion_version, users_evaluated and champion_beats_implicit."""
    from ltv import recommendation_tuning as tuning

    interactions = connection.sql("""
        select * from intermediate.int_user_item_interactions_aggregated
        order by user_id, item_id""").df()
    settings = connection.sql("select random_seed from intermediate.int_model_settings").fetchall()
    seed = int(settings[0][0]) if settings else 0
    catalogue_size = connection.sql("select count(distinct item_id) from staging.stg_shop__items").fetchall()[0][0]
    validation_train = tuning.period_interactions(interactions, "validation")
    before_cutoff = tuning.period_interactions(interactions, "cutoff")
    later = before_cutoff.loc[before_cutoff["purchases"] > 0].merge(
        validation_train[["user_id", "item_id", "purchases"]], on=["user_id", "item_id"], how="left",
        suffixes=("", "_before"))
    later = later.loc[later["purchases"] > later["purchases_before"].fillna(0)]
    validation = tuning.first_purchases_after(validation_train, later)
    _, validation_users = tuning.tuning_sample(validation_train, validation, seed)
    test = tuning.first_purchases_after(
        before_cutoff, interactions.loc[interactions["purchases_after_cutoff"] > 0, ["user_id", "item_id"]])
    # The users the warehouse's evaluation scored: all test users, or its sample in a large shop.
    test = test.loc[test["user_id"].isin(sampled_users(test["user_id"], seed))]

    def purchases(frame: pd.DataFrame) -> pd.DataFrame:
        bought = frame.loc[frame["purchases"] > 0]
        return pd.DataFrame({"user_id": bought["user_id"], "item_id": bought["item_id"], "weight": bought["purchases"]})

    reference = implicit_bm25_evaluation(
        purchases(validation_train), validation, purchases(before_cutoff), test,
        validation_users=validation_users if len(validation_users) else None, top_n=top_n,
        catalogue_size=catalogue_size)
    evaluation = connection.sql("select model_version, ndcg_at_10, users_evaluated from ml.ml_recommendation_evaluation").df()
    by_version = dict(zip(evaluation["model_version"].astype(str), evaluation["ndcg_at_10"], strict=True))
    champion = connection.sql("select model_version from fct_recommendation_versions where is_champion").fetchall()
    champion_version = str(champion[0][0]) if champion else None

    def value(version: str | None):
        found = by_version.get(version) if version is not None else None
        return None if found is None or pd.isna(found) else float(found)

    row = {name: value(version) for name, version in
           (("v1", "1"), ("v2", "2"), ("v3", "3"), ("champion", champion_version), ("popularity", "popularity"))}
    implicit_ndcg = reference["metrics"]["ndcg_at_k"]
    row.update(implicit_bm25=implicit_ndcg, implicit_k=reference["k"], champion_version=champion_version,
               users_evaluated=int(reference["metrics"]["users_evaluated"]),
               champion_beats_implicit=None if row["champion"] is None or implicit_ndcg is None
               else bool(row["champion"] > implicit_ndcg))
    return row
