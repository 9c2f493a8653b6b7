"""How well sentiment scores agree with the ratings people gave."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import roc_auc_score


def sentiment_evaluation(scores: Sequence[float], ratings: Sequence[float | None]) -> dict[str, Any]:
    """How well scores agree with star ratings, over the rows where both are present.

    auc_positive_vs_negative: ROC AUC of the score separating 4-5 star from 1-2 star texts (3 stars left
    out); spearman_with_rating: rank correlation with the rating over all rated rows; rows: rated rows
    used. A metric that is undefined (one class only, constant scores) is None.
    """
    frame = pd.DataFrame(
        {
            "score": pd.to_numeric(pd.Series(list(scores)), errors="coerce"),
            "rating": pd.to_numeric(pd.Series(list(ratings)), errors="coerce"),
        }
    ).dropna()
    score, rating = frame["score"].to_numpy(dtype=float), frame["rating"].to_numpy(dtype=float)
    polar = rating != 3
    positive = rating[polar] >= 4
    auc = None
    if positive.any() and (~positive).any():
        auc = float(roc_auc_score(positive, score[polar]))
    spearman = None
    if len(score) >= 2 and np.ptp(score) > 0 and np.ptp(rating) > 0:
        spearman = float(stats.spearmanr(score, rating).statistic)
        spearman = None if math.isnan(spearman) else spearman
    return {"auc_positive_vs_negative": auc, "spearman_with_rating": spearman, "rows": int(len(score))}
