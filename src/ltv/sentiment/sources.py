"""Which v2 model scores which text source, decided on that source's own labels.

Reviews are scored by the review model (trained on stars). A model trained on stars need not read
support messages: on the demo it ranks support messages by satisfaction no better than chance
(Spearman 0.03, AUC 0.46), because complaints are written differently from reviews. So support
messages get a model trained on their own satisfaction ratings when the shop has at least
MIN_TRAINING_ROWS of them and its out-of-fold Spearman with satisfaction beats the review model's on
the same messages (which the review model never saw); otherwise the review model, with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from ltv.sentiment.evaluation import sentiment_evaluation
from ltv.sentiment.trained_v2 import (
    MIN_TRAINING_ROWS,
    _cross_validated_fit,
    _training_rows,
    _training_sample,
    _vectorize,
    score_sentiment_model,
)

REVIEW, SUPPORT_MESSAGE = "review", "support_message"
# Support sets are small (hundreds of rated messages where reviews run to thousands): a stronger
# penalty. Chosen by 5-fold CV on the demo's 270 rated messages: Spearman 0.447 at 3 vs 0.435 at 1.
SUPPORT_RIDGE_ALPHA = 3.0


def _better(candidate: dict[str, Any], incumbent: dict[str, Any]) -> bool:
    """A Spearman that is defined and higher; an undefined one never wins."""
    challenger, holder = candidate.get("spearman_with_rating"), incumbent.get("spearman_with_rating")
    return challenger is not None and (holder is None or challenger > holder)


def _time_adjusted(satisfaction: np.ndarray, response_hours: np.ndarray) -> tuple[np.ndarray, float]:
    """(satisfaction less the part a slow answer explains, its slope on log1p(hours)).

    A message's words cannot know how fast it will be answered; leaving the wait in the target only
    adds noise the model would fit to words. The slope is least squares of satisfaction on
    log1p(hours); unknown hours count as the average wait (no adjustment)."""
    waits = np.log1p(np.clip(response_hours, 0.0, None))
    known = ~np.isnan(waits)
    if known.sum() < 2 or np.ptp(waits[known]) == 0:
        return satisfaction.copy(), 0.0
    slope = float(np.polyfit(waits[known], satisfaction[known], 1)[0])
    centred = np.where(known, waits - waits[known].mean(), 0.0)
    return satisfaction - slope * centred, slope


def _train_support_model(documents: np.ndarray, satisfaction: np.ndarray, response_hours: np.ndarray,
                         seed: int) -> tuple[Pipeline, dict[str, Any]]:
    """Ridge on the time-adjusted satisfaction, with 0 at its mean: a message is negative when its
    words predict a less satisfied customer than the shop's average conversation. (On the stars'
    fixed midpoint, 3, most support messages would be positive, because most conversations end
    at 3-4; "Sort it out NOW." came out +0.28.) Out-of-fold figures are against the raw rating."""
    adjusted, slope = _time_adjusted(satisfaction, response_hours)
    neutral = float(adjusted.mean())
    vectorizer, matrix = _vectorize(documents)
    out_of_fold, ridge = _cross_validated_fit(matrix, adjusted, seed, neutral, SUPPORT_RIDGE_ALPHA)
    figures = sentiment_evaluation(out_of_fold, satisfaction)
    figures.update({"neutral_satisfaction": neutral, "response_time_slope": slope, "ridge_alpha": SUPPORT_RIDGE_ALPHA,
                    "training_rows": len(documents)})
    return Pipeline([*vectorizer.steps, ("ridge", ridge)]), figures


def choose_support_model(
    review_model: Pipeline, texts: Sequence[str | None], satisfaction: Sequence[float | None],
    response_hours: Sequence[float | None] | None = None, seed: int = 42,
) -> tuple[Pipeline, dict[str, Any]]:
    """(model for support messages, decision) from the rated support messages up to the cut-off (at
    most MAX_TRAINING_ROWS of them, chosen by text hash as for reviews).

    decision = {"model": "support" | "review", "reason", "review_model": the review model's
    sentiment_evaluation on these messages, "support_model": the support model's out-of-fold
    sentiment_evaluation (None when not trained), and the chosen model's figures as "metrics"}.
    """
    rows = _training_sample(_training_rows(texts, satisfaction))  # bounded, as for reviews
    documents, ratings = rows["text"].to_numpy(dtype=object), rows["rating"].to_numpy(dtype=float)
    hours = np.full(len(texts), np.nan) if response_hours is None else np.asarray(
        pd.to_numeric(pd.Series(list(response_hours), dtype="object"), errors="coerce"), dtype=float)
    review_figures = sentiment_evaluation(score_sentiment_model(review_model, documents).to_numpy(), ratings)
    decision: dict[str, Any] = {"review_model": review_figures, "support_model": None}
    if len(rows) < MIN_TRAINING_ROWS:
        reason = (f"only {len(rows)} support messages with a satisfaction rating up to the cut-off; "
                  f"a support model needs {MIN_TRAINING_ROWS}: the review model is used")
        return review_model, {**decision, "model": REVIEW, "reason": reason, "metrics": review_figures}
    support_model, support_figures = _train_support_model(documents, ratings, hours[rows.index.to_numpy()], seed)
    decision["support_model"] = support_figures
    if _better(support_figures, review_figures):
        reason = (f"support model (out-of-fold Spearman {_format(support_figures)}) ranks satisfaction "
                  f"better than the review model ({_format(review_figures)}) on {len(rows)} messages")
        return support_model, {**decision, "model": "support", "reason": reason, "metrics": support_figures}
    reason = (f"review model (Spearman {_format(review_figures)}) ranks satisfaction at least as well as a "
              f"support model (out-of-fold {_format(support_figures)}) on {len(rows)} messages")
    return review_model, {**decision, "model": REVIEW, "reason": reason, "metrics": review_figures}


def _format(figures: dict[str, Any]) -> str:
    value = figures.get("spearman_with_rating")
    return "undefined" if value is None or np.isnan(value) else f"{value:.3f}"
