"""Sentiment v1 (exact TextBlob) and v2 (trained model), and the table score_texts returns."""

from __future__ import annotations

import hashlib
import logging
import os
import random
import threading
import time

import duckdb
import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from textblob import TextBlob
from textblob import _text as pattern_text
from textblob.en import sentiment as pattern_sentiment

from ltv import sentiment
from ltv.build_cache import deserialize, serialize
from ltv.sentiment import (
    SCORE_COLUMNS,
    score_sentiment_model,
    score_textblob,
    score_texts,
    sentiment_evaluation,
    synthetic_review,
    text_hash,
    textblob_v1,
    train_sentiment_model,
    workers,
)


def textblob_reference(texts):
    """What v1 must equal: TextBlob's public API, one text at a time."""
    return [tuple(TextBlob(text).sentiment) for text in texts]


# --- v1 equals TextBlob ---------------------------------------------------------------------------

TRICKY = [
    "",
    "   ",
    "The shoes are good.",
    "The shoes are not good.",
    "The shoes isn't good.",  # TextBlob 0.20.1: "n't" never negates
    "I don't like them, they aren't comfortable and won't last.",
    "Not bad at all!",
    "not really good",
    "really not good",
    "very very good",
    "never again, NEVER!!!",
    "GREAT QUALITY, TERRIBLE DELIVERY!!!",
    "Love them :) but the box :( was damaged :-( :D XD x D <3 ♥",
    "Amazing (!) service ( ! ) really",
    "so good :\n\n) fine",  # a paragraph break inside an emoticon: the sentence split re-joins it
    "Great.\n\nBad.\r\n\r\nOkay...\n\nGood!?",
    "“Perfect” fit, ‘lovely’ colour, it’s great, I’m happy, we’ll see",
    "e.g. the U.S. version, Mr. Smith said etc. it was fine vs. the old one",
    "Die Schuhe sind sehr gut, aber nicht bequem. Schön!",
    "Los zapatos son muy buenos, pero no son cómodos. ¡Excelente!",
    "この靴はとても良いです。最悪ではない。",
    "😀👍 great 🔥🔥 terrible 😡",
    "İSTANBUL ǅEMAL ΣΟΦΊΑ nice",
    "Price 49.99, size EU 42, ordered 2 pairs, [EMAIL] [PHONE] [CARD]",
    "END-OF-SENTENCE good end-of-sentence",
    "!!! ??? ... (((( )))) '' \"\" :::",
]


def test_v1_equals_textblob_on_tricky_texts():
    expected = textblob_reference(TRICKY)
    scored = score_textblob(TRICKY)
    assert list(zip(scored["polarity"], scored["subjectivity"], strict=True)) == expected


def test_v1_keeps_textblob_quirks():
    def polarity(text):
        return score_textblob([text])["polarity"][0]

    # "n't" is split off as "n ' t" by TextBlob's tokenizer and never negates ...
    assert polarity("It isn't good") == polarity("It is good") > 0
    # ... while "not" does: "not good" = -0.5 * "good"
    assert polarity("It is not good") == -0.5 * polarity("It is good")


def test_v1_equals_textblob_on_a_very_long_text():
    text = synthetic_review(random.Random(3), length=100_000)
    assert len(text) >= 100_000
    scored = score_textblob([text])
    assert (scored["polarity"][0], scored["subjectivity"][0]) == textblob_reference([text])[0]


def _varied_text(rng: random.Random, lexicon: list[str], emoticons: list[str]) -> str:
    """Random texts built to hit every branch of TextBlob's tokenizer and scorer."""
    extras = [
        "not", "no", "never", "n't", "very", "really", "extremely", "!", "!!!", "(!)", "( ! )", "(!", "...",
        ".", "?", "?!", ",", ";", ":", "'", '"', "“", "”", "‘", "’", "isn't", "don't", "I'm", "it's", "we'll",
        "e.g.", "U.S.", "Mr.", "Dr.", "A.", "etc.", "\n\n", "\n", "\r\n", "\t", "\u00a0", "END-OF-SENTENCE",
        "(", ")", "[", "]", "-", "X D", "8 )", ": )", ": - )", "< 3", "😀", "café", "schön", "とても", "42",
        "49.99", "[PHONE]", "o_O", "o.O", "XD", ":'(",
    ]  # fmt: skip
    words = []
    for _ in range(rng.choice([0, 1, 2, 3, 5, 8, 13, 30, 60])):
        roll = rng.random()
        if roll < 0.45:
            word = rng.choice(lexicon)
        elif roll < 0.75:
            word = rng.choice(extras)
        elif roll < 0.85:
            word = rng.choice(emoticons)
        else:
            word = rng.choice(["the", "a", "is", "it", "of", "an", "shoes"])
        case = rng.random()
        word = word.upper() if case < 0.15 else word.capitalize() if case < 0.25 else word
        if rng.random() < 0.2:
            word += rng.choice([".", "!", "?", ",", ")", "'", '"', "...", ":", "!!", ".)", "”", "’"])
        if rng.random() < 0.1:
            word = rng.choice(["(", '"', "'", "“", "[", "#", "*"]) + word
        words.append(word + rng.choice([" ", " ", " ", "", "  ", "\n", "\n\n"]))
    return "".join(words)


def test_v1_is_float_identical_to_textblob_on_a_large_varied_set():
    """The re-implementation's proof: 25,000 random texts from TextBlob's own lexicon, emoticons,
    negations, modifiers, abbreviations, quotes, paragraph breaks and punctuation, plus realistic
    reviews. (Checked on 450,000 such texts during development: no difference.)"""
    len(pattern_sentiment)  # load the lexicon
    lexicon = sorted(dict.keys(pattern_sentiment))
    emoticons = sorted(face for faces in pattern_text.EMOTICONS.values() for face in faces)
    rng = random.Random(20240601)
    texts = [_varied_text(rng, lexicon, emoticons) for _ in range(25_000)]
    texts += [synthetic_review(rng) for _ in range(1_000)]
    expected = [tuple(pattern_sentiment(text)) for text in texts]
    scored = score_textblob(texts, parallel_threshold=10**9)
    actual = list(zip(scored["polarity"], scored["subjectivity"], strict=True))
    mismatches = [(text, a, e) for text, a, e in zip(texts, actual, expected, strict=True) if a != e]
    assert not mismatches, mismatches[:3]
    # textblob.en.sentiment (the reference above, faster) is what TextBlob(text).sentiment calls
    assert textblob_reference(texts[:300]) == expected[:300]


def test_lower_casing_never_creates_or_removes_whitespace():
    """_pattern_sentiment lower-cases the joined text instead of each word; that is only the same
    if no character's lower case is, or contains, whitespace (over all of Unicode)."""
    for character in map(chr, range(0x110000)):
        lower = character.lower()
        assert lower.split() == ([] if character.isspace() else [lower]), repr(character)


def test_other_textblob_versions_are_scored_by_textblob_itself(monkeypatch):
    monkeypatch.setattr(textblob_v1, "_use_reimplementation", False)
    scored = score_textblob(TRICKY)
    assert list(zip(scored["polarity"], scored["subjectivity"], strict=True)) == textblob_reference(TRICKY)


def test_score_textblob_keeps_order_duplicates_and_nulls():
    texts = ["good", None, "bad", "good", float("nan"), "bad"]
    scored = score_textblob(texts)
    assert len(scored) == 6
    assert scored["polarity"][0] == scored["polarity"][3] == TextBlob("good").sentiment.polarity
    assert scored["polarity"][2] == scored["polarity"][5] == TextBlob("bad").sentiment.polarity
    assert scored.loc[[1, 4]].isna().all().all()


# --- v1 in worker processes -------------------------------------------------------------------------


def _distinct_reviews(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [f"{synthetic_review(rng, 120)} #{number}" for number in range(count)]


def test_parallel_path_equals_single_process(spy_on_workers, caplog):
    texts = _distinct_reviews(3_000, seed=1) + ["good", "good", None]
    single = score_textblob(texts, workers=1)
    with caplog.at_level(logging.WARNING, logger="ltv.sentiment"):
        parallel = score_textblob(texts, parallel_threshold=100, workers=2)
    assert spy_on_workers == [(3_001, 2)]
    assert not caplog.records
    pd.testing.assert_frame_equal(parallel, single)


def test_parallel_path_works_with_duckdb_threads_running_in_the_parent(spy_on_workers, caplog):
    """Inside `dbt run` the parent process holds a DuckDB connection with its own worker threads, and
    dbt's threads. Forking must still work and give the same numbers."""
    connection = duckdb.connect()
    connection.execute("SET threads TO 4")
    stop = threading.Event()

    def keep_duckdb_busy():
        cursor = connection.cursor()
        while not stop.is_set():
            cursor.execute("SELECT sum(i * i) FROM range(3000000) t(i)").fetchall()

    busy = threading.Thread(target=keep_duckdb_busy)
    busy.start()
    try:
        time.sleep(0.05)
        texts = _distinct_reviews(2_000, seed=2)
        with caplog.at_level(logging.WARNING, logger="ltv.sentiment"):
            parallel = score_textblob(texts, parallel_threshold=100, workers=2)
    finally:
        stop.set()
        busy.join()
    assert connection.execute("SELECT 42").fetchone() == (42,)  # the parent's connection is fine
    connection.close()
    assert spy_on_workers == [(2_000, 2)]
    assert not caplog.records
    pd.testing.assert_frame_equal(parallel, score_textblob(texts, workers=1))


def test_a_dying_worker_falls_back_to_one_process(monkeypatch, caplog):
    monkeypatch.setattr(workers, "_child", lambda task, start, end, connection: os._exit(3))
    texts = _distinct_reviews(500, seed=3)
    with caplog.at_level(logging.WARNING, logger="ltv.sentiment"):
        scored = score_textblob(texts, parallel_threshold=100, workers=2)
    assert "scoring in one process" in caplog.text
    pd.testing.assert_frame_equal(scored, score_textblob(texts, workers=1))


def test_a_stuck_worker_is_killed_and_the_parent_scores(monkeypatch, caplog):
    monkeypatch.setattr(workers, "WORKER_STALL_SECONDS", 0.5)
    monkeypatch.setattr(workers, "_child", lambda task, start, end, connection: time.sleep(60))
    texts = _distinct_reviews(300, seed=4)
    started = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="ltv.sentiment"):
        scored = score_textblob(texts, parallel_threshold=100, workers=2)
    assert time.perf_counter() - started < 15
    assert "TimeoutError" in caplog.text
    pd.testing.assert_frame_equal(scored, score_textblob(texts, workers=1))


def test_benchmark_reports_speed():
    result = sentiment.benchmark_textblob(500, seed=1, workers=1)
    assert result["texts"] == 500 and result["workers"] == 1
    assert result["seconds"] > 0 and result["cpu_seconds"] > 0
    assert result["texts_per_second"] == pytest.approx(500 / result["seconds"])


# --- keys, evaluation -------------------------------------------------------------------------------


def test_text_hash_is_sha256_of_utf8_and_keeps_nulls():
    hashes = text_hash(pd.Series(["héllo [EMAIL]", None, ""]))
    assert hashes[0] == hashlib.sha256("héllo [EMAIL]".encode()).hexdigest()
    assert pd.isna(hashes[1])
    assert hashes[2] == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert text_hash(["a"]).tolist() == [hashlib.sha256(b"a").hexdigest()]


def test_sentiment_evaluation_by_hand():
    scores = [0.9, 0.1, -0.5, 0.3, -0.2, 0.0, None]
    ratings = [5, 4, 1, 2, 3, None, 5]
    # Rows with both values: the first five. 4-5 vs 1-2 stars: positives {0.9, 0.1}, negatives
    # {-0.5, 0.3}; 3 of the 4 positive/negative pairs are ordered right -> AUC 0.75.
    # Ranks of scores (5, 3, 1, 4, 2) vs ratings (5, 4, 1, 2, 3): sum d^2 = 6, rho = 1 - 6*6/(5*24) = 0.7.
    assert sentiment_evaluation(scores, ratings) == {
        "auc_positive_vs_negative": pytest.approx(0.75),
        "spearman_with_rating": pytest.approx(0.7),
        "rows": 5,
    }
    assert sentiment_evaluation([0.1, 0.2], [4, 5])["auc_positive_vs_negative"] is None


# --- v2 ---------------------------------------------------------------------------------------------

PHRASES = {
    5: [
        "absolutely love them",
        "best shoes I have owned",
        "not bad at all, in fact excellent",
        "perfect fit",
    ],
    4: ["good shoes", "not bad at all", "pretty comfortable", "happy with them"],
    3: ["they are okay", "not great, not terrible", "average quality", "nothing special"],
    2: ["the sole isn't good", "not good enough", "wasn't great", "I don't like the fit"],
    1: ["terrible quality", "they fell apart", "don't buy these", "isn't comfortable at all"],
}
FILLER = ["I bought these for work.", "Delivery took 3 days.", "Size 42.", "Ordered in blue."]


def synthetic_rated_reviews(count: int, seed: int, noise: float = 0.1) -> tuple[list[str], list[int]]:
    """Wording follows the stars (with 10 % random wording), including negations TextBlob misreads."""
    rng = random.Random(seed)
    texts, ratings = [], []
    for _ in range(count):
        rating = rng.randint(1, 5)
        wording = rating if rng.random() > noise else rng.randint(1, 5)
        parts = [rng.choice(PHRASES[wording]).capitalize() + "."]
        if rng.random() < 0.5:
            nearby = min(5, max(1, wording + rng.choice([-1, 0, 1])))
            parts.append(rng.choice(PHRASES[nearby]).capitalize() + ".")
        parts.insert(rng.randrange(len(parts) + 1), rng.choice(FILLER))
        texts.append(" ".join(parts))
        ratings.append(rating)
    return texts, ratings


@pytest.fixture(scope="module")
def trained():
    texts, ratings = synthetic_rated_reviews(1_500, seed=7)
    model, metrics = train_sentiment_model(texts, ratings, seed=42)
    return texts, ratings, model, metrics


def test_v2_beats_v1_on_auc_and_spearman(trained):
    texts, ratings, _, v2_metrics = trained
    v1_metrics = sentiment_evaluation(score_textblob(texts)["polarity"], ratings)
    assert v2_metrics["rows"] == v1_metrics["rows"] == 1_500
    assert v2_metrics["auc_positive_vs_negative"] > v1_metrics["auc_positive_vs_negative"] + 0.05
    assert v2_metrics["spearman_with_rating"] > v1_metrics["spearman_with_rating"] + 0.1
    assert v2_metrics["folds"] == 5 and v2_metrics["seed"] == 42


def test_v2_cv_metrics_and_model_are_deterministic(trained):
    texts, ratings, model, metrics = trained
    again_model, again_metrics = train_sentiment_model(texts, ratings, seed=42)
    assert again_metrics == metrics
    probe = ["not bad at all", "isn't good", None]
    pd.testing.assert_series_equal(
        score_sentiment_model(again_model, probe), score_sentiment_model(model, probe)
    )
    # the same rows in another order (and with unusable rows mixed in) give the very same model
    order = random.Random(0).sample(range(len(texts)), len(texts))
    shuffled_model, shuffled_metrics = train_sentiment_model(
        [texts[i] for i in order] + [None, "no rating"], [ratings[i] for i in order] + [5, None], seed=42
    )
    assert shuffled_metrics == metrics
    pd.testing.assert_series_equal(
        score_sentiment_model(shuffled_model, probe), score_sentiment_model(model, probe)
    )
    _, other_seed_metrics = train_sentiment_model(texts, ratings, seed=1)
    assert other_seed_metrics != metrics


def test_v2_learns_negations_textblob_misses(trained):
    _, _, model, _ = trained
    scores = score_sentiment_model(model, ["The sole isn't good.", "Not bad at all.", None])
    assert scores[0] < 0 < scores[1]
    assert pd.isna(scores[2])
    assert score_textblob(["The sole isn't good."])["polarity"][0] > 0  # v1 gets it backwards


def test_v2_scores_are_on_the_polarity_scale(trained):
    _, _, model, _ = trained
    scores = score_sentiment_model(model, ["Absolutely love them. " * 20, "Terrible quality. " * 20, ""])
    assert scores.between(-1, 1).all()


def test_ridge_ranks_at_least_as_well_as_logistic_regression():
    """Why v2 is a ridge regression on the rating and not a positive-vs-negative classifier."""
    texts, ratings = synthetic_rated_reviews(1_500, seed=11)
    ridge = sentiment.out_of_fold_scores(texts, ratings, seed=42)
    documents, stars = np.array(texts, dtype=object), np.array(ratings)
    logistic = np.empty(len(stars))
    for train, test in StratifiedKFold(5, shuffle=True, random_state=42).split(stars, stars):
        train = train[stars[train] != 3]
        classifier = Pipeline(
            [
                ("tfidf", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)),
                ("logistic", LogisticRegression(max_iter=1000)),
            ]
        ).fit(documents[train], stars[train] >= 4)
        logistic[test] = 2 * classifier.predict_proba(documents[test])[:, 1] - 1
    ridge_metrics, logistic_metrics = (
        sentiment_evaluation(ridge, ratings),
        sentiment_evaluation(logistic, ratings),
    )
    assert ridge_metrics["spearman_with_rating"] > logistic_metrics["spearman_with_rating"]
    assert ridge_metrics["auc_positive_vs_negative"] > logistic_metrics["auc_positive_vs_negative"] - 0.01


def test_training_needs_enough_rows():
    with pytest.raises(ValueError, match="at least"):
        train_sentiment_model(["good"] * 10, [5] * 10)


def test_model_survives_serialization(trained):
    _, _, model, _ = trained
    restored = deserialize(serialize(model))
    probe = ["good shoes", "they fell apart", "neutral words only"]
    pd.testing.assert_series_equal(
        score_sentiment_model(restored, probe), score_sentiment_model(model, probe)
    )


# --- score_texts ------------------------------------------------------------------------------------


def _texts_frame() -> pd.DataFrame:
    texts = ["Great shoes!", "Not good.", None, "Great shoes!", "Awful :("]
    frame = pd.DataFrame({"text": texts})
    frame["text_hash"] = text_hash(frame["text"])
    frame.loc[2, "text_hash"] = "hash-of-an-empty-review"  # the caller may key null texts
    extra = pd.DataFrame({"text_hash": [None], "text": ["no key"]})
    return pd.concat([frame[["text_hash", "text"]], extra], ignore_index=True)


def test_score_texts_v1():
    scored = score_texts(_texts_frame(), "v1")
    assert list(scored.columns) == SCORE_COLUMNS
    assert len(scored) == 4  # one row per distinct non-null text_hash
    assert scored["text_hash"].is_unique
    assert (scored["model_version"] == "v1").all()
    by_hash = scored.set_index("text_hash")
    great = by_hash.loc[text_hash(["Great shoes!"])[0]]
    assert (great["polarity"], great["subjectivity"]) == tuple(TextBlob("Great shoes!").sentiment)
    assert great["scored"]
    empty = by_hash.loc["hash-of-an-empty-review"]
    assert pd.isna(empty["polarity"]) and pd.isna(empty["subjectivity"]) and not empty["scored"]


def test_score_texts_v2(trained):
    _, _, model, _ = trained
    scored = score_texts(_texts_frame(), "v2", model=model)
    assert list(scored.columns) == SCORE_COLUMNS
    assert (scored["model_version"] == "v2").all()
    assert scored["subjectivity"].isna().all()
    assert scored["scored"].tolist() == [True, True, False, True]
    assert scored["polarity"].notna().tolist() == [True, True, False, True]
    expected = score_sentiment_model(model, ["Great shoes!"])[0]
    assert scored["polarity"][0] == expected
    with pytest.raises(ValueError, match="model"):
        score_texts(_texts_frame(), "v2")
    with pytest.raises(ValueError, match="version"):
        score_texts(_texts_frame(), "v3")
