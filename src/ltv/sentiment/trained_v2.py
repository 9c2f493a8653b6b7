"""v2: a model trained on the shop's own ratings, in any language.

Features are hashed words, word pairs and (for Chinese, Japanese, Korean) characters and character
pairs, weighted by TF-IDF; a ridge regression maps them to the rating on the polarity scale. The
same function trains the review model (on stars) and the support model (on satisfaction ratings):
see ltv.sentiment.sources for which source uses which.

Speed, exactly as scikit-learn computes it: scoring counts the hashed features with
hashed_counts.FeatureCounter (the vectorizer's matrix, ~20 µs a text instead of ~60) and runs the
pipeline's own TF-IDF and ridge steps on it, in forked workers (ltv.sentiment.workers); training
loads only its bounded sample and fits the ridge on the filled columns (ridge_fit), the
cross-validation folds side by side (in lockstep since, see below). At 1.2 million texts on the
shared 2-core machine: scoring 71 s -> 24 s, training 62 s -> 37 s, with every score bit-identical.
Then (issue 18) the workers read the Arrow text column in place (arrow_texts) and keep their freed
memory, training counts in batches, and the count matrix is built by one sort. At 1.2 million texts
(CPU-s of the model in one process, under load): training and scoring 65 -> 47, scoring with stored
models 41 -> 35, peak memory 2.7 -> 2.5 GB, most of it the kernel's page faults; every score still
bit-identical. The six ridge fits (all rows and the five folds) had run in a thread pool, which
gained nothing because scipy's sparse products hold the GIL; they now iterate in lockstep with shared
multi-vector products (ridge_fit.fit_ridges): on 100,000 real reviews 9.5 -> 6.2 CPU-s, and as much
wall time, with every coefficient unchanged.

Not done, and why: scoring in DuckDB as a join of per-term weights (the model is linear). The
weights are easy, the terms are not: text_features lower-cases and splits by Python's Unicode rules
(final sigma; word characters of every script) where DuckDB's RE2 knows ASCII ones only; a term's
column is murmurhash3 of its UTF-8, which DuckDB has no function for, and the L2 norm and the dot
product would be summed in no fixed order. Counting the terms in Python is ~90% of scoring time
(the TF-IDF and ridge steps ~2 µs a text), so a join of counts made in Python would save little.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import Pipeline

from ltv.sentiment import workers
from ltv.sentiment.arrow_texts import arrow_texts
from ltv.sentiment.evaluation import sentiment_evaluation
from ltv.sentiment.features import text_features
from ltv.sentiment.hashed_counts import FeatureCounter
from ltv.sentiment.keys import text_hash
from ltv.sentiment.ridge_fit import fit_ridges

# Changing anything about the model below must change this, so that stored models are retrained.
MODEL_SPEC = "hashed-words-1-2gram+cjk-char-1-2gram-2^20-tfidf-sublinear+ridge-alpha1.0+max100k/v3"
MIN_TRAINING_ROWS = 50
MAX_TRAINING_ROWS = 100_000
CV_FOLDS = 5
HASHED_FEATURES = 2**20
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


# The order `_training_sample` keeps the first MAX_TRAINING_ROWS rows of. A caller that holds the
# text hashes beside the texts (int_texts_masked does) can take the same sample in SQL with
# `order by text_hash, rating limit MAX_TRAINING_ROWS` and load only those rows.
TRAINING_SAMPLE_ORDER = ("text_hash", "rating")


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
    return frame.sort_values(list(TRAINING_SAMPLE_ORDER), kind="stable")


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
    what costs; doing it once instead of once per fold and again for the final fit makes training
    ~5x faster. The price is that the vocabulary and IDF weights of a fold have seen its held-out
    reviews' words (not their ratings), a negligible optimism at the thousands of reviews v2 trains
    on. The hashed counts come from hashed_counts.FeatureCounter, equal to the hashing step's own
    transform (which is what Pipeline.fit_transform would call) at a fraction of its time.
    """
    model = _new_model()
    hashing, tfidf = model.named_steps["hashing"], model.named_steps["tfidf"]
    hashing.fit(documents)  # stateless: this only checks its parameters, as in Pipeline.fit
    matrix = tfidf.fit_transform(_hashed_counts(hashing, list(documents)))
    return Pipeline([("hashing", hashing), ("tfidf", tfidf)]), matrix


def _ridge_fits(matrix, targets: np.ndarray, subsets: list[np.ndarray | None], alpha: float) -> list[Ridge]:
    """One ridge fit per subset of rows (None: all rows), in subset order: Ridge(alpha).fit of each
    subset's rows, to the last bit (ridge_fit.fit_ridges).

    All subsets' conjugate-gradient iterations run in lockstep in this thread, each iteration's
    sparse products for all of them as one multi-vector product. Threads gave nothing: scipy's
    sparse products hold the GIL, so six fits in a thread pool took as much CPU and wall time as
    one after another."""
    return fit_ridges(matrix, targets, subsets, alpha)


def _cross_validated_fit(matrix, ratings: np.ndarray, seed: int, neutral: float = NEUTRAL_RATING,
                         alpha: float = 1.0, with_final: bool = True) -> tuple[np.ndarray, Ridge | None]:
    """(out-of-fold scores of the CV_FOLDS folds, the ridge fitted on all rows or None without
    with_final), all fitted together (ridge_fit.fit_ridges)."""
    targets = _rating_target(ratings, neutral)
    folds = list(_folds(ratings, seed))
    subsets = [None] * with_final + [train for train, _ in folds]
    fits = _ridge_fits(matrix, targets, subsets, alpha)
    final, fold_fits = (fits[0], fits[1:]) if with_final else (None, fits)
    scores = np.empty(matrix.shape[0])
    for (_, test), ridge in zip(folds, fold_fits, strict=True):
        scores[test] = np.clip(ridge.predict(matrix[test]), -1.0, 1.0)
    return scores, final


def _out_of_fold(documents: np.ndarray, ratings: np.ndarray, seed: int) -> np.ndarray:
    _, matrix = _vectorize(documents)
    return _cross_validated_fit(matrix, ratings, seed, with_final=False)[0]


def _training_sample(rows: pd.DataFrame) -> pd.DataFrame:
    """At most MAX_TRAINING_ROWS rows: those first by the hash of their text (then rating), not by
    row order, so the sample is the same whatever order the rows arrive in. Beyond ~100,000 rated
    texts the model gains little and training time grows linearly. `rows` are `_training_rows`,
    already in that order."""
    return rows if len(rows) <= MAX_TRAINING_ROWS else rows.iloc[:MAX_TRAINING_ROWS]


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
    out_of_fold, ridge = _cross_validated_fit(matrix, rating_array, seed, neutral, alpha)
    metrics = sentiment_evaluation(out_of_fold, rating_array)
    metrics.update({"folds": CV_FOLDS, "seed": seed, "model_spec": MODEL_SPEC, "training_rows": len(rows),
                    "neutral_rating": neutral, "ridge_alpha": alpha})
    model = Pipeline([*vectorizer.steps, ("ridge", ridge)])
    return model, metrics


# Texts per batch: bounds memory at a million texts, and a worker reports progress after each.
SCORING_CHUNK = 20_000
# Texts below which forking workers costs more than it saves (~10 µs a text on the fast path).
PARALLEL_THRESHOLD = 50_000


def _uses_text_features(hashing) -> bool:
    """Whether `hashing` is v2's hashing step, which FeatureCounter reproduces exactly (a model
    stored by another version of this code may not be: it is then scored by its own pipeline)."""
    return isinstance(hashing, HashingVectorizer) and hashing.get_params() == _hasher().get_params()


def _hashed_counts(hashing, documents: list[str]):
    """The hashing step's matrix of the training documents, counted SCORING_CHUNK at a time: one
    count of 100,000 documents made arrays of ~100 MB, which glibc maps fresh and unmaps on each
    use, and the kernel's page faults then cost as much CPU as the counting (1.3 s of 3)."""
    if not _uses_text_features(hashing):
        return hashing.transform(documents)
    counter = FeatureCounter(HASHED_FEATURES)
    if len(documents) <= SCORING_CHUNK:
        return counter.counts(documents)
    return sp.vstack([counter.counts(documents[first : first + SCORING_CHUNK])
                      for first in range(0, len(documents), SCORING_CHUNK)], format="csr")


def _scoring_task(model: Pipeline, documents: Sequence[str]) -> workers.Task:
    """A workers.Task: the pipeline's predictions for documents[start:end] as float64 bytes.

    The hashing step's counts come from one FeatureCounter (it remembers the tokens it hashed from
    one batch to the next); the later steps are the pipeline's own, run as Pipeline.predict runs
    them, so each score is the pipeline's to the last bit."""
    hashing, fast = model.steps[0][1], _uses_text_features(model.steps[0][1])

    def task(start: int, end: int, heartbeat) -> bytes:
        counter = FeatureCounter(HASHED_FEATURES) if fast else None
        scores = np.empty(end - start)
        for first in range(start, end, SCORING_CHUNK):
            batch = documents[first : min(first + SCORING_CHUNK, end)]
            transformed = counter.counts(batch) if fast else hashing.transform(batch)
            for _, step in model.steps[1:-1]:
                transformed = step.transform(transformed)
            scores[first - start : first - start + len(batch)] = model.steps[-1][1].predict(transformed)
            heartbeat()
        return scores.tobytes()

    return task


def _documents(texts) -> tuple[int, np.ndarray, Sequence[str]]:
    """(how many texts, the positions of those present, those texts as a sliceable sequence)."""
    is_arrow = isinstance(texts, pa.Array | pa.ChunkedArray)
    reader = arrow_texts(texts) if is_arrow else None
    if reader is not None:
        return len(reader), np.arange(len(reader)), reader
    series = pd.Series(texts.to_pylist() if is_arrow else list(texts), dtype="object")
    present = np.flatnonzero(series.notna().to_numpy())
    return len(series), present, series.to_numpy(dtype=object)[present].tolist()


def score_sentiment_model(model: Pipeline, texts: Sequence[str | None], workers_count: int | None = None,
                          parallel_threshold: int = PARALLEL_THRESHOLD) -> pd.Series:
    """v2 scores in [-1, 1] for `texts` (None gives NaN), index 0..n-1: model.predict, clipped.

    With at least `parallel_threshold` texts, in forked workers (`workers_count`, default: the
    cores this process may use), falling back to this process if that fails (ltv.sentiment.workers).
    The hashed features need no shared vocabulary, so any slice of the texts scores on its own.
    `texts` may be a pyarrow string column: the workers then read it in place (ltv.sentiment.arrow_texts).
    """
    count, present, documents = _documents(texts)
    task = _scoring_task(model, documents)
    task(0, min(1, len(documents)), lambda: None)  # warm-up: no lazy import may run in a forked child
    parts = workers.run_sliced(task, len(documents), workers_count or workers.available_cores(),
                               parallel_threshold, "v2 sentiment scoring")
    scores = np.full(count, np.nan)
    scores[present] = np.clip(np.frombuffer(b"".join(parts), dtype=np.float64), -1.0, 1.0)
    return pd.Series(scores, name="polarity")


def benchmark_scoring(model: Pipeline, texts: Sequence[str], workers_count: int = 1) -> dict[str, float]:
    """Time score_sentiment_model on `texts`: {"texts", "seconds", "texts_per_second"} (one process
    unless `workers_count` says otherwise)."""
    started = time.perf_counter()
    score_sentiment_model(model, texts, workers_count=workers_count)
    seconds = time.perf_counter() - started
    return {"texts": len(texts), "seconds": seconds, "texts_per_second": len(texts) / seconds}
