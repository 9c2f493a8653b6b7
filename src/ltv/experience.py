"""Customer experience score of a support conversation, from its sentiment and how fast we answered.

Two versions, stored side by side and evaluated on the same held-out conversations:

v1  the published formula: experience_score = 0.5 * sentiment + 0.5 * normalized_response_time.
    A conversation without a sentiment (no text to score) counts as neutral, sentiment 0: it is not
    evidence either way, and dropping it would hide slow answers to silent customers.
    sentiment is in [-1, 1] and normalized_response_time in [0, 1], so the score lies in [-0.5, 1].
    To compare it with the 1-5 satisfaction rating, it is mapped linearly from [-0.5, 1] onto [1, 5]:
        predicted_satisfaction = 1 + (experience_score + 0.5) * 4 / 1.5
    (-0.5, the angriest customer answered after 3+ days, is 1 star; 1, a delighted customer answered
    at once, is 5 stars; 0.25, the middle of the range, is 3 stars.)

v2  the weights are learned: ordinary least squares of the satisfaction rating on sentiment,
    normalized_response_time and log1p(response_hours), fitted on about 80 % of the rated conversations.
    log1p(hours) is there because waiting hurts most at first (1 h vs 12 h matters more than 60 h vs
    72 h) and keeps counting past the 72 h cap, where normalized_response_time is flat at 0.
    experience_score = (predicted_satisfaction - 3) / 2, clipped to [-1, 1]; predicted_satisfaction is
    clipped to [1, 5]. So v2's score lives on [-1, 1], like sentiment, while v1's is the formula's
    [-0.5, 1]; compare the versions through predicted_satisfaction, which is on the rating's scale.

The 80/20 split (holdout_split) puts each conversation on a side by a hash of its id and the seed,
so a rebuild gives the same split, new conversations leave the old ones where they were, and v1's
holdout metrics are computed on exactly v2's holdout rows.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np
import pandas as pd

MODEL_NAME = "conversation_experience"
MODEL_VERSIONS = ("v1", "v2")
# The registry's method of each version (fct_model_runs.method).
VERSION_METHODS = {"v1": "published_formula", "v2": "least_squares_on_satisfaction"}
CAP_HOURS = 72.0
MIN_RATED_CONVERSATIONS = 30
HOLDOUT_SHARE = 0.2
# A conversation is held out when the first 32 bits of md5("<seed>:<id>") are below this: below
# HOLDOUT_SHARE of their range (ceil: "< 858993459.2" is "< 858993460" for whole numbers).
HOLDOUT_BUCKET_LIMIT = math.ceil(HOLDOUT_SHARE * 2**32)
V1_SENTIMENT_WEIGHT = 0.5
V1_RESPONSE_WEIGHT = 0.5
V1_SCORE_RANGE = (-0.5, 1.0)  # 0.5 * [-1, 1] + 0.5 * [0, 1]
RATING_RANGE = (1.0, 5.0)
V2_FEATURES = ("sentiment", "normalized_response_time", "log1p_response_hours")

SCORE_COLUMNS = [
    "conversation_id",
    "model_version",
    "experience_score",
    "predicted_satisfaction",
    "normalized_response_time",
]


def normalize_response_time(hours: pd.Series, cap_hours: float = CAP_HOURS) -> pd.Series:
    """1 - min(hours, cap) / cap: 1 for an instant answer, 0 for one after `cap_hours` (3 days) or later.

    A fixed cap rather than min-max scaling over the data: min-max would move every conversation's score
    whenever the slowest answer in the table changes, so scores would not be stable across rebuilds and
    an incremental load could not score new conversations without rescoring the old ones. A fixed cap
    gives each conversation a value that depends on nothing but its own response time.
    Negative hours (clock skew) count as 0; null stays null.
    """
    hours = pd.to_numeric(pd.Series(hours), errors="coerce").astype(float)
    return 1.0 - hours.clip(lower=0.0, upper=cap_hours) / cap_hours


def v1_predicted_satisfaction(experience_score: pd.Series | np.ndarray) -> np.ndarray:
    """The linear map of v1's score range [-0.5, 1] onto the rating range [1, 5]."""
    low, high = V1_SCORE_RANGE
    rating_low, rating_high = RATING_RANGE
    score = np.asarray(experience_score, dtype=float)
    return rating_low + (score - low) * (rating_high - rating_low) / (high - low)


def _features(frame: pd.DataFrame) -> pd.DataFrame:
    hours = pd.to_numeric(frame["response_hours"], errors="coerce").astype(float)
    return pd.DataFrame(
        {
            "sentiment": pd.to_numeric(frame["sentiment"], errors="coerce").astype(float).fillna(0.0),
            "normalized_response_time": normalize_response_time(hours),
            "log1p_response_hours": np.log1p(hours.clip(lower=0.0)),
        },
        index=frame.index,
    )


def holdout_buckets(ids: np.ndarray, seed: int) -> np.ndarray:
    """The first 32 bits of md5("<seed>:<id>") (UTF-8) of each id, as int64: Spark's md5 gives the same."""
    return np.fromiter((int(hashlib.md5(f"{seed}:{conversation_id}".encode()).hexdigest()[:8], 16)
                        for conversation_id in ids), dtype=np.int64, count=len(ids))


def holdout_split(conversation_ids: pd.Series, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """(train_ids, holdout_ids), each sorted. A conversation is held out when its holdout_buckets
    number is below HOLDOUT_BUCKET_LIMIT (about HOLDOUT_SHARE of them); when none is (a handful of
    conversations), the one with the smallest number (the first id of equal ones), so that one is.

    Each id's side depends on the id and the seed alone, so new conversations leave the old ones where
    they were: a daily load does not move the holdout, nor the support sentiment model trained outside
    it (text_models._support_model), which is then reused. (A seeded permutation of all ids did both:
    +1% of conversations retrained that model and rescored its 220,000 messages on the large shop.)"""
    ids = np.sort(pd.Series(conversation_ids).to_numpy())
    buckets = holdout_buckets(ids, seed)
    held = buckets < HOLDOUT_BUCKET_LIMIT
    if len(ids) and not held.any():
        held[np.argmin(buckets)] = True
    return ids[~held], ids[held]


def _regression_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float | None]:
    errors = predicted - actual
    total = float(np.sum((actual - actual.mean()) ** 2))
    return {
        "mse": float(np.mean(errors**2)),
        "mae": float(np.mean(np.abs(errors))),
        "r2": 1.0 - float(np.sum(errors**2)) / total if total > 0 else None,
    }


def _empty_scores() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "conversation_id": pd.Series(dtype="object"),
            "model_version": pd.Series(dtype="str"),
            "experience_score": pd.Series(dtype=float),
            "predicted_satisfaction": pd.Series(dtype=float),
            "normalized_response_time": pd.Series(dtype=float),
        },
        columns=SCORE_COLUMNS,
    )


def _run(
    version: str,
    status: str,
    message: str,
    train_rows: int = 0,
    holdout_rows: int = 0,
    parameters: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "model_name": MODEL_NAME,
        "model_version": version,
        "method": VERSION_METHODS[version],
        "status": status,
        "message": message,
        "train_rows": train_rows,
        "holdout_rows": holdout_rows,
        "parameters": parameters or {},
        "metrics": metrics or {"mse": None, "mae": None, "r2": None},
    }


def _too_few(rated: int) -> str:
    return (
        f"only {rated} conversations have a satisfaction rating and a response time; "
        f"at least {MIN_RATED_CONVERSATIONS} are needed for a holdout evaluation"
    )


# v1's fixed formula, as the registry records it.
V1_PARAMETERS = {
    "sentiment_weight": V1_SENTIMENT_WEIGHT,
    "response_time_weight": V1_RESPONSE_WEIGHT,
    "cap_hours": CAP_HOURS,
    "null_sentiment_counts_as": 0.0,
    "score_range": list(V1_SCORE_RANGE),
    "predicted_satisfaction": "1 + (experience_score + 0.5) * 4 / 1.5",
}


def v1_run(rated: int, holdout_rows: int = 0, metrics: dict[str, Any] | None = None) -> dict[str, Any]:
    """v1's registry run: evaluated on the v2 holdout when there are `metrics` (enough rated
    conversations), else not evaluated. The run of either engine (ltv.engines.spark_experience)."""
    if metrics is None:
        return _run("v1", "fitted", f"published formula, no training; not evaluated: {_too_few(rated)}",
                    parameters=dict(V1_PARAMETERS))
    return _run("v1", "fitted", "published formula, no training; evaluated on the v2 holdout", 0, holdout_rows,
                dict(V1_PARAMETERS), metrics)


def v2_skipped_run(rated: int) -> dict[str, Any]:
    return _run("v2", "skipped", f"not fitted: {_too_few(rated)}")


def v2_run(train_rows: int, holdout_rows: int, intercept: float, coefficients, seed: int,
           metrics: dict[str, Any]) -> dict[str, Any]:
    """v2's registry run: the least-squares weights (one per V2_FEATURES) and the holdout metrics."""
    parameters = {
        "intercept": intercept,
        "coefficients": {name: float(value) for name, value in zip(V2_FEATURES, coefficients, strict=True)},
        "cap_hours": CAP_HOURS,
        "seed": seed,
        "holdout_share": HOLDOUT_SHARE,
    }
    return _run("v2", "fitted", "least squares on 80 % of rated conversations; metrics on the other 20 %",
                train_rows, holdout_rows, parameters, metrics)


def _normalize_version(version: str | int) -> str:
    normalized = f"v{version}" if isinstance(version, int) else str(version).lower()
    if normalized not in MODEL_VERSIONS:
        raise ValueError(f"unknown experience model version {version!r}; expected one of {MODEL_VERSIONS}")
    return normalized


def fit_experience(
    conversations: pd.DataFrame, version: str | int, seed: int = 42
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Score every conversation with one version; return (scores, run).

    conversations: DataFrame[conversation_id, response_hours, sentiment, satisfaction_rating], one row
    per conversation; sentiment and satisfaction_rating may be null.
    scores: DataFrame[conversation_id, model_version, experience_score, predicted_satisfaction,
    normalized_response_time], one row per conversation, sorted by conversation_id; a null
    response_hours gives null scores. The result does not depend on the input's row order.
    run: {"model_name", "model_version", "status" ("fitted" | "skipped"), "message", "train_rows",
    "holdout_rows", "parameters", "metrics" {mse, mae, r2 of predicted_satisfaction on the holdout}}.

    With fewer than 30 rated conversations there is no holdout worth the name: v2 is skipped (no
    scores), v1 still scores every conversation (its formula needs no ratings) but reports no metrics.
    """
    version = _normalize_version(version)
    if conversations["conversation_id"].duplicated().any():
        raise ValueError("conversation_id must be unique: one row per conversation")
    if len(conversations) == 0:
        return _empty_scores(), _run(version, "skipped", "no conversations to score")
    # Work in id order: least squares sums over rows, and a different row order (a rebuild, an
    # incremental load) would otherwise change the fitted weights in their last bits.
    conversations = conversations.sort_values("conversation_id", kind="stable").reset_index(drop=True)

    features = _features(conversations)
    ratings = pd.to_numeric(conversations["satisfaction_rating"], errors="coerce").astype(float)
    has_response = features["normalized_response_time"].notna()
    rated = ratings.notna() & has_response
    enough = int(rated.sum()) >= MIN_RATED_CONVERSATIONS
    if enough:
        train_ids, holdout_ids = holdout_split(conversations.loc[rated, "conversation_id"], seed=seed)
        is_train = conversations["conversation_id"].isin(train_ids) & rated
        is_holdout = conversations["conversation_id"].isin(holdout_ids) & rated

    if version == "v1":
        experience_score = (
            V1_SENTIMENT_WEIGHT * features["sentiment"]
            + V1_RESPONSE_WEIGHT * features["normalized_response_time"]
        )
        predicted = pd.Series(v1_predicted_satisfaction(experience_score), index=conversations.index)
        if enough:
            metrics = _regression_metrics(ratings[is_holdout].to_numpy(), predicted[is_holdout].to_numpy())
            run = v1_run(int(rated.sum()), int(is_holdout.sum()), metrics)
        else:
            run = v1_run(int(rated.sum()))
    else:
        if not enough:
            return _empty_scores(), v2_skipped_run(int(rated.sum()))
        # Imported here: the Spark workers that import this module for its constants need no scikit-learn.
        from sklearn.linear_model import LinearRegression

        columns = list(V2_FEATURES)
        model = LinearRegression().fit(
            features.loc[is_train, columns].to_numpy(), ratings[is_train].to_numpy()
        )
        raw = pd.Series(np.nan, index=conversations.index)
        raw[has_response] = model.predict(features.loc[has_response, columns].to_numpy())
        predicted = raw.clip(*RATING_RANGE)
        experience_score = ((raw - 3.0) / 2.0).clip(-1.0, 1.0)
        metrics = _regression_metrics(ratings[is_holdout].to_numpy(), predicted[is_holdout].to_numpy())
        run = v2_run(int(is_train.sum()), int(is_holdout.sum()), float(model.intercept_), model.coef_, seed, metrics)

    scores = pd.DataFrame(
        {
            "conversation_id": conversations["conversation_id"].to_numpy(),
            "model_version": pd.Series([version] * len(conversations), dtype="str").to_numpy(),
            "experience_score": experience_score.where(has_response).to_numpy(dtype=float),
            "predicted_satisfaction": predicted.where(has_response).to_numpy(dtype=float),
            "normalized_response_time": features["normalized_response_time"].to_numpy(dtype=float),
        },
        columns=SCORE_COLUMNS,
    )
    return scores, run
