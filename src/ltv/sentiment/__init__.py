"""Sentiment of review and support texts, in two versions that the warehouse keeps side by side.

v1  TextBlob 0.20.1's default PatternAnalyzer (`textblob_v1`): a fixed English lexicon. No training,
    and the number for a text is exactly `TextBlob(text).sentiment.polarity` (quirks included: "n't"
    never negates, because TextBlob's tokenizer splits "isn't" into "is n ' t"; "not good" does
    negate). Only texts detected as English are scored (`language`); the others get NULL polarity
    and subjectivity with not_scored_reason = 'not_english', not TextBlob's misleading 0.
v2  a hashed-TF-IDF + ridge regression model trained on the shop's own ratings, in any language
    (`trained_v2`). Its score is on the same [-1, 1] scale. Reviews are scored by a model trained on
    stars; support messages by one trained on satisfaction ratings when that validates better
    (`sources`).

Texts arrive masked and cleaned (see ltv.text_privacy); (text_source, text_hash) of that text is the
key under which scores are stored, so an incremental run only scores texts it has not seen, and the
same words can score differently as a review and as a support message.

Modules: keys (text_hash), language (is it English?), textblob_v1, trained_v2, features (the words v2
reads), hashed_counts (v2's hashed word counts, fast and exactly the vectorizer's), workers (scoring in
forked processes, for v1 and v2), sources (which v2 model a source uses), evaluation (agreement with
ratings), benchmark (synthetic reviews, v1 speed).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from ltv.sentiment.benchmark import benchmark_textblob, synthetic_review
from ltv.sentiment.evaluation import sentiment_evaluation
from ltv.sentiment.keys import text_hash
from ltv.sentiment.language import V1_LANGUAGES, detect_language, detect_languages
from ltv.sentiment.sources import choose_support_model
from ltv.sentiment.textblob_v1 import score_textblob
from ltv.sentiment.trained_v2 import (
    MODEL_SPEC,
    out_of_fold_scores,
    score_sentiment_model,
    text_features,
    train_sentiment_model,
)

__all__ = [
    "MODEL_SPEC", "MODEL_VERSIONS", "NOT_ENGLISH", "SCORE_COLUMNS", "benchmark_textblob", "choose_support_model",
    "detect_language", "detect_languages", "out_of_fold_scores", "score_sentiment_model", "score_textblob",
    "score_texts", "sentiment_evaluation", "synthetic_review", "text_features", "text_hash", "train_sentiment_model",
]

MODEL_VERSIONS = ("v1", "v2")
NOT_ENGLISH = "not_english"
SCORE_COLUMNS = ["text_hash", "model_version", "polarity", "subjectivity", "scored", "language", "not_scored_reason"]


def _normalize_version(version: str | int) -> str:
    normalized = f"v{version}" if isinstance(version, int) else str(version).lower()
    if normalized not in MODEL_VERSIONS:
        raise ValueError(f"unknown sentiment model version {version!r}; expected one of {MODEL_VERSIONS}")
    return normalized


def score_texts(texts_frame: pd.DataFrame, version: str | int, model: Pipeline | None = None) -> pd.DataFrame:
    """Score DataFrame[text_hash, text] with one model version.

    Returns DataFrame[text_hash, model_version, polarity, subjectivity, scored, language,
    not_scored_reason], one row per distinct non-null text_hash (first occurrence wins). Null texts
    get null scores and scored = False. subjectivity is TextBlob's and stays null for v2, which has no
    such notion. v1 detects each text's language and scores only English ones (and texts without
    words); the rest are null with not_scored_reason 'not_english'. v2 reads any language (language
    stays null: it does not need it) and needs `model`.
    """
    version = _normalize_version(version)
    if version == "v2" and model is None:
        raise ValueError("v2 scoring needs the trained model (train_sentiment_model, or a stored one)")
    frame = texts_frame.loc[texts_frame["text_hash"].notna(), ["text_hash", "text"]]
    frame = frame.drop_duplicates("text_hash").reset_index(drop=True)
    texts = frame["text"].astype("object").where(frame["text"].notna(), None).tolist()
    language = pd.Series([None] * len(frame), dtype="object")
    not_scored_reason = pd.Series([None] * len(frame), dtype="object")
    if version == "v1":
        scores = score_textblob(texts, english_only=True)
        polarity, subjectivity = scores["polarity"].to_numpy(), scores["subjectivity"].to_numpy()
        language = scores["language"].astype("object")
        applicable = language.isin(V1_LANGUAGES).to_numpy()
        not_scored_reason = not_scored_reason.where(applicable | language.isna().to_numpy(), NOT_ENGLISH)
    else:
        polarity = score_sentiment_model(model, texts).to_numpy()
        subjectivity = np.full(len(frame), np.nan)
    return pd.DataFrame(
        {
            "text_hash": frame["text_hash"].astype("str"),
            "model_version": pd.Series([version] * len(frame), dtype="str"),
            "polarity": polarity.astype(float),
            "subjectivity": subjectivity.astype(float),
            "scored": frame["text"].notna().to_numpy(dtype=bool) & ~np.isnan(polarity.astype(float)),
            "language": language.astype("object"),
            "not_scored_reason": not_scored_reason.astype("object"),
        },
        columns=SCORE_COLUMNS,
    )
