"""v2: a model trained on the shop's own ratings, in any language.

Features are hashed words, word pairs and (for Chinese, Japanese, Korean) characters and character
pairs, weighted by TF-IDF; a ridge regression maps them to the rating on the polarity scale. The
same function trains the review model (on stars) and the support model (on satisfaction ratings):
see ltv.sentiment.sources for which source uses which.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import Pipeline

from ltv.sentiment.evaluation import sentiment_evaluation
from ltv.sentiment.keys import text_hash

# Changing anything about the model below must change this, so that stored models are retrained.
MODEL_SPEC = "hashed-words-1-2gram+cjk-char-1-2gram-2^20-tfidf-sublinear+ridge-alpha1.0+max100k/v3"
MIN_TRAINING_ROWS = 50
MAX_TRAINING_ROWS = 100_000
CV_FOLDS = 5
HASHED_FEATURES = 2**20
# Scripts written without spaces between words: Han, kana, hangul (and their compatibility blocks).
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
# A run of CJK characters; a word in any other script (apostrophes kept inside: "isn't", "don't",
# the negation TextBlob cannot see); or a text emoticon.
_TOKEN = re.compile(rf"[{_CJK}]+|[^\W{_CJK}]+(?:['’][^\W{_CJK}]+)*|[:;=]-?[()\[\]DPp/]")


def text_features(text: str) -> list[str]:
    """The features v2 counts in a text: each word and each pair of adjacent words (the pairs carry
    negations: "not good"), and in Chinese, Japanese or Korean, which have no spaces to find words
    by, each character and each pair of adjacent characters (the CJK bigrams of Lucene's and
    Elasticsearch's CJK analyzers: most Chinese words are one or two characters).

    Chosen over scikit-learn's char_wb 1-4 grams by 5-fold CV on the demo's reviews and support
    messages and on the multilingual shape's (3,000 users): the same Spearman and AUC within 0.01
    on all four, at 4-5x the speed (char_wb: ~1,000 300-character texts/s on one core, this: ~4,600).
    """
    features: list[str] = []
    previous = None
    for token in _TOKEN.findall(text.lower()):
        if token[0] >= "\u3040" and _CJK_CHARACTER.match(token):
            features.extend(token)
            features.extend(token[position : position + 2] for position in range(len(token) - 1))
            previous = None
        else:
            features.append(token)
            if previous is not None:
                features.append(f"{previous} {token}")
            previous = token
    return features


_CJK_CHARACTER = re.compile(f"[{_CJK}]")


NEUTRAL_RATING = 3.0


def _rating_target(ratings: np.ndarray, neutral: float = NEUTRAL_RATING) -> np.ndarray:
    """1..5 ratings onto the polarity scale: `neutral` -> 0, each 2 points away -> 1 (stars: 1 -> -1,
    3 -> 0, 5 -> +1)."""
    return (ratings - neutral) / 2.0


def _hasher() -> HashingVectorizer:
    """Stateless, so that scoring can run on any chunk of texts in any worker (no vocabulary to
    ship); 2^20 buckets keep collisions rare at the 100,000 reviews v2 trains on at most."""
    return HashingVectorizer(analyzer=text_features, n_features=HASHED_FEATURES, alternate_sign=False,
                             norm=None, dtype=np.float64)


def _new_model(alpha: float = 1.0) -> Pipeline:
    return Pipeline(
        [
            ("hashing", _hasher()),
            # sublinear: a word said five times is not five times the evidence
            ("tfidf", TfidfTransformer(sublinear_tf=True)),
            ("ridge", Ridge(alpha=alpha)),
        ]
    )


def _training_rows(texts: Sequence[str | None], ratings: Sequence[float | None]) -> pd.DataFrame:
    """The rows training uses (text and rating present) as DataFrame[text, rating, text_hash], indexed
    by their position in the input and sorted by (text_hash, rating).

    The canonical order makes the folds, the cv metrics and the model independent of the order the
    rows arrive in.
    """
    frame = pd.DataFrame(
        {
            "text": pd.Series(list(texts), dtype="object"),
            "rating": pd.to_numeric(pd.Series(list(ratings), dtype="object"), errors="coerce").astype(float),
        }
    )
    frame = frame[frame["text"].notna() & frame["rating"].notna()].copy()
    frame["text_hash"] = text_hash(frame["text"].astype("str"))
    return frame.sort_values(["text_hash", "rating"], kind="stable")


def _folds(ratings: np.ndarray, seed: int):
    """Stratified by rating when ratings are whole numbers and every rating occurs at least CV_FOLDS times, else plain shuffled K-fold."""
    _, counts = np.unique(ratings, return_counts=True)
    if np.array_equal(ratings, np.round(ratings)) and counts.min() >= CV_FOLDS:
        return StratifiedKFold(n_splits=CV_FOLDS, shuffle=True, random_state=seed).split(ratings, ratings)
    return KFold(n_splits=CV_FOLDS, shuffle=True, random_state=seed).split(ratings)


def _checked_training_rows(texts: Sequence[str | None], ratings: Sequence[float | None]) -> pd.DataFrame:
    rows = _training_rows(texts, ratings)
    if len(rows) < MIN_TRAINING_ROWS:
        raise ValueError(f"need at least {MIN_TRAINING_ROWS} reviews with text and rating, got {len(rows)}")
    return rows


def _vectorize(documents: np.ndarray):
    """Fit the TF-IDF step once on all training documents; return (fitted hashing + TF-IDF, matrix).

    The cross-validation folds then refit only the ridge on rows of this matrix. Tokenizing is
    what costs (about 5 s per 70,000 reviews); doing it once instead of once per fold and again
    for the final fit makes training ~5x faster. The price is that the vocabulary and IDF weights
    of a fold have seen its held-out reviews' words (not their ratings), a negligible optimism at
    the thousands of reviews v2 trains on.
    """
    model = _new_model()
    vectorizer = Pipeline([("hashing", model.named_steps["hashing"]), ("tfidf", model.named_steps["tfidf"])])
    return vectorizer, vectorizer.fit_transform(documents)


def _out_of_fold_from_matrix(matrix, ratings: np.ndarray, seed: int, neutral: float = NEUTRAL_RATING,
                             alpha: float = 1.0) -> np.ndarray:
    scores = np.empty(matrix.shape[0])
    for train, test in _folds(ratings, seed):
        ridge = clone(_new_model(alpha).named_steps["ridge"]).fit(matrix[train], _rating_target(ratings[train], neutral))
        scores[test] = np.clip(ridge.predict(matrix[test]), -1.0, 1.0)
    return scores


def _out_of_fold(documents: np.ndarray, ratings: np.ndarray, seed: int) -> np.ndarray:
    _, matrix = _vectorize(documents)
    return _out_of_fold_from_matrix(matrix, ratings, seed)


def _training_sample(rows: pd.DataFrame) -> pd.DataFrame:
    """At most MAX_TRAINING_ROWS reviews, chosen by the hash of their text (not by row order), so
    the sample is the same whatever order the rows arrive in. Beyond ~100,000 reviews the model
    gains little and training time grows linearly."""
    if len(rows) <= MAX_TRAINING_ROWS:
        return rows
    order = text_hash(rows["text"]).to_numpy(dtype=object).argsort(kind="stable")
    return rows.iloc[np.sort(order[:MAX_TRAINING_ROWS])]


def out_of_fold_scores(
    texts: Sequence[str | None], ratings: Sequence[float | None], seed: int = 42
) -> np.ndarray:
    """v2 scores for the training rows, each predicted by a model that did not see it (5-fold CV).

    Aligned with the input; rows without text or rating (not used in training) get NaN.
    """
    rows = _checked_training_rows(texts, ratings)
    scores = np.full(len(texts), np.nan)
    scores[rows.index.to_numpy()] = _out_of_fold(
        rows["text"].to_numpy(dtype=object), rows["rating"].to_numpy(dtype=float), seed
    )
    return scores


def train_sentiment_model(
    texts: Sequence[str | None], ratings: Sequence[float | None], seed: int = 42, neutral: float = NEUTRAL_RATING,
    alpha: float = 1.0,
) -> tuple[Pipeline, dict[str, Any]]:
    """Fit v2 on texts with 1-5 ratings (review stars, or support satisfaction); return (model, cv_metrics).

    The model is TF-IDF on hashed `text_features` plus ridge regression on the rating mapped to [-1, 1]
    ((rating - 3) / 2). Ridge on the rating was chosen over a logistic regression on "4-5 stars vs 1-2
    stars" (probability mapped to [-1, 1]) by 5-fold CV on generated review sets with negations: equal
    AUC (within 0.001 on 2,000 and on 20,000 reviews) and a clearly better Spearman correlation with
    the rating (0.87 vs 0.81, 0.69 vs 0.63), because it also learns from 3-star reviews and orders
    1 < 2 < 3 < 4 < 5 instead of only "bad vs good". tests/python/test_sentiment.py repeats the check.

    cv_metrics = `sentiment_evaluation` of the 5-fold out-of-fold scores (each review scored by a model
    that never saw it) plus "folds", "seed" and "model_spec". Deterministic for a given seed and set of
    rows, whatever their order. Raises ValueError with fewer than MIN_TRAINING_ROWS reviews that have
    both text and rating. `neutral` is the rating that maps to polarity 0 (3 for stars; see
    ltv.sentiment.sources for support satisfaction) and `alpha` the ridge penalty. Ratings may be
    fractional (support satisfaction adjusted for response time): folds are then not stratified.
    """
    rows = _training_sample(_checked_training_rows(texts, ratings))
    documents, rating_array = rows["text"].to_numpy(dtype=object), rows["rating"].to_numpy(dtype=float)
    vectorizer, matrix = _vectorize(documents)
    metrics = sentiment_evaluation(_out_of_fold_from_matrix(matrix, rating_array, seed, neutral, alpha), rating_array)
    metrics.update({"folds": CV_FOLDS, "seed": seed, "model_spec": MODEL_SPEC, "training_rows": len(rows),
                    "neutral_rating": neutral, "ridge_alpha": alpha})
    ridge = clone(_new_model(alpha).named_steps["ridge"]).fit(matrix, _rating_target(rating_array, neutral))
    model = Pipeline([*vectorizer.steps, ("ridge", ridge)])
    return model, metrics


SCORING_CHUNK = 50_000


def score_sentiment_model(model: Pipeline, texts: Sequence[str | None]) -> pd.Series:
    """v2 scores in [-1, 1] for `texts` (None gives NaN), index 0..n-1.

    In chunks of SCORING_CHUNK texts: the hashed features need no shared vocabulary, so each chunk
    is independent and memory stays bounded at a million texts.
    """
    series = pd.Series(list(texts), dtype="object")
    present = np.flatnonzero(series.notna().to_numpy())
    scores = np.full(len(series), np.nan)
    documents = series.to_numpy(dtype=object)
    for start in range(0, len(present), SCORING_CHUNK):
        positions = present[start : start + SCORING_CHUNK]
        scores[positions] = np.clip(model.predict(documents[positions]), -1.0, 1.0)
    return pd.Series(scores, name="polarity")


def benchmark_scoring(model: Pipeline, texts: Sequence[str]) -> dict[str, float]:
    """Time score_sentiment_model on `texts`: {"texts", "seconds", "texts_per_second"} (one process)."""
    started = time.perf_counter()
    score_sentiment_model(model, texts)
    seconds = time.perf_counter() - started
    return {"texts": len(texts), "seconds": seconds, "texts_per_second": len(texts) / seconds}
