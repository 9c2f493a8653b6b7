"""Sentiment beyond English and per text source: language detection, v1 not applicable on other
languages, v2 learning Chinese and Portuguese from the shop's own ratings, and support messages
scored by a model validated on support satisfaction."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import build_warehouse
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from ltv.sentiment import (
    choose_support_model,
    detect_language,
    score_sentiment_model,
    score_texts,
    text_features,
    train_sentiment_model,
)

SEEDS = Path(__file__).resolve().parents[2] / "seeds"

LABELLED = [  # (text, language) labelled by hand
    ("O produto chegou quebrado, muito ruim.", "other"),
    ("Adorei, chegou rápido e bem embalado.", "other"),
    ("Não gostei", "other"),
    ("Gostei muito do produto, chegou antes do prazo", "other"),
    ("El producto llegó roto", "other"),
    ("Le produit est arrivé cassé", "other"),
    ("Das Produkt ist kaputt", "other"),
    ("质量很好，非常满意", "zh"),
    ("太差了，千万别买。", "zh"),
    ("とても良い商品です", "ja"),
    ("정말 좋아요", "ko"),
    ("Отличный товар", "other"),
    ("Great!", "en"),
    ("Arrived broken.", "en"),
    ("Hi,\nOrder O00007526 arrived with a cracked serum. Please advise. Cheers.", "en"),
    ("I am furious. Order O00003166 arrived with a cracked power bank.", "en"),
    (":)", "und"),
    ("!!!", "und"),
]


@pytest.mark.parametrize(("text", "language"), LABELLED)
def test_language_of_hand_labelled_texts(text, language):
    assert detect_language(text) == language


def test_every_demo_text_is_english():
    """The demo's reviews and support messages are all English (the generator writes English only)."""
    texts = pd.concat([pd.read_csv(SEEDS / "reviews.csv")["comment"],
                       pd.read_csv(SEEDS / "support_conversations.csv")["message"]]).dropna()
    languages = {detect_language(text) for text in texts}
    assert languages == {"en"}


def test_v1_is_null_with_a_reason_on_other_languages_and_textblob_on_english():
    from textblob import TextBlob

    frame = pd.DataFrame({"text_hash": ["a", "b", "c", "d"],
                          "text": ["质量很好，非常满意", "Péssimo, não comprem.", "Really good", ":("]})
    scored = score_texts(frame, 1).set_index("text_hash")
    assert scored.loc[["a", "b"], "polarity"].isna().all()
    assert scored.loc[["a", "b"], "subjectivity"].isna().all()
    assert list(scored.loc[["a", "b"], "not_scored_reason"]) == ["not_english", "not_english"]
    assert (scored.loc["c", "polarity"], scored.loc["c", "subjectivity"]) == tuple(TextBlob("Really good").sentiment)
    assert scored.loc["d", "polarity"] == TextBlob(":(").sentiment.polarity < 0
    assert scored.loc[["c", "d"], "not_scored_reason"].isna().all()


def test_features_are_words_word_pairs_and_cjk_characters_and_pairs():
    assert text_features("Not good :)") == ["not", "good", "not good", ":)", "good :)"]
    assert text_features("很好。Isn't") == ["很", "好", "很好", "isn't"]


def _demo_support() -> pd.DataFrame:
    support = pd.read_csv(SEEDS / "support_conversations.csv", parse_dates=["opened_at", "first_response_at"])
    support["response_hours"] = (support["first_response_at"] - support["opened_at"]).dt.total_seconds() / 3600
    return support


def test_demo_support_messages_get_a_support_model_and_sort_it_out_now_is_negative():
    reviews = pd.read_csv(SEEDS / "reviews.csv").dropna(subset=["comment"])
    review_model, _ = train_sentiment_model(reviews["comment"].tolist(), reviews["rating"].tolist())
    support = _demo_support()
    model, decision = choose_support_model(review_model, support["message"].tolist(),
                                           support["satisfaction_rating"].tolist(), support["response_hours"].tolist())
    assert decision["model"] == "support"
    rated = support.dropna(subset=["message", "satisfaction_rating"])
    # the review model's figure, recomputed independently: it cannot read support messages
    review_scores = score_sentiment_model(review_model, rated["message"].tolist())
    review_spearman = spearmanr(review_scores, rated["satisfaction_rating"]).statistic
    assert decision["review_model"]["spearman_with_rating"] == pytest.approx(review_spearman)
    assert review_spearman < 0.15 < 0.4 < decision["support_model"]["spearman_with_rating"]
    angry = support[support["message"].str.contains("ridiculous", na=False)
                    & support["message"].str.contains("Sort it out NOW", na=False)]["message"].tolist()
    assert angry and (score_sentiment_model(model, angry) < 0).all()
    assert (score_sentiment_model(review_model, angry) > 0).all()  # the problem the issue describes


def test_too_few_support_ratings_fall_back_to_the_review_model():
    reviews = pd.read_csv(SEEDS / "reviews.csv").dropna(subset=["comment"])
    review_model, _ = train_sentiment_model(reviews["comment"].tolist(), reviews["rating"].tolist())
    support = _demo_support().dropna(subset=["satisfaction_rating"]).head(20)
    model, decision = choose_support_model(review_model, support["message"].tolist(),
                                           support["satisfaction_rating"].tolist())
    assert model is review_model and decision["model"] == "review" and decision["support_model"] is None


@pytest.fixture(scope="module")
def multilingual(tmp_path_factory):
    from ltv.shapes import generate_shaped_shop

    work = tmp_path_factory.mktemp("multilingual")
    generate_shaped_shop("multilingual", 2_000, work / "raw", seed=7)
    warehouse, _ = build_warehouse(work / "build", raw_dir=work / "raw",
                                   extra_arguments=["--exclude-resource-type", "test", "unit_test"])
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        texts = connection.sql("select * from fct_text_sentiment").df()
        runs = connection.sql("select * from fct_model_runs where model_name in "
                              "('text_sentiment', 'support_sentiment')").df()
        cutoff = connection.sql("select cutoff_date from intermediate.int_model_settings").fetchall()[0][0]
        experience = connection.sql("select * from fct_conversation_experience").df()
    return texts, runs, pd.Timestamp(cutoff), experience, warehouse


def test_multilingual_v1_scores_only_english(multilingual):
    texts, _, _, _, _ = multilingual
    v1 = texts[(texts["model_version"] == 1) & texts["masked_text"].notna()]
    assert set(v1["language"]) == {"en", "zh", "other"}
    foreign = v1[v1["language"] != "en"]
    assert len(foreign) > 0.7 * len(v1)  # 85% of the shape's texts are Chinese or Portuguese
    assert foreign["polarity"].isna().all() and (foreign["not_scored_reason"] == "not_english").all()
    assert foreign["masked_text"].str.contains("[\u4e00-\u9fff]").sum() == (foreign["language"] == "zh").sum()
    assert v1.loc[v1["language"] == "en", "polarity"].notna().all()


def test_multilingual_v2_is_useful_on_reviews_after_the_cutoff(multilingual):
    texts, _, cutoff, _, _ = multilingual
    held_out = texts[(texts["model_version"] == 2) & (texts["text_source"] == "review")
                     & (texts["written_at"] > cutoff + pd.Timedelta(days=1))]
    assert len(held_out) > 100
    for language in ("zh", "other"):
        part = held_out[held_out["language"] == language]
        assert spearmanr(part["polarity"], part["rating"]).statistic >= 0.5
        polar = part[part["rating"] != 3]
        assert roc_auc_score(polar["rating"] >= 4, polar["polarity"]) >= 0.8


def test_multilingual_support_uses_its_own_model_and_registry_records_both_sources(multilingual):
    texts, runs, _, experience, _ = multilingual
    support_v2 = runs[(runs["model_name"] == "support_sentiment") & (runs["model_version"] == "2")]
    assert list(support_v2["method"]) == ["tfidf_ridge_on_satisfaction"]
    assert support_v2["spearman_with_rating"].iloc[0] > 0.4 and bool(support_v2["beats_baseline"].iloc[0])
    assert set(runs["model_name"]) == {"text_sentiment", "support_sentiment"}
    v2_support = texts[(texts["model_version"] == 2) & (texts["text_source"] == "support_message")]
    assert v2_support["polarity"].notna().all() and (v2_support["polarity"] < 0).any()
    assert experience["sentiment"][experience["model_version"] == 2].notna().all()
    assert np.isfinite(experience["experience_score"]).all()


def test_a_rebuild_scores_no_text_again_and_trains_nothing(multilingual, tmp_path):
    """The incremental contract, on the built warehouse: with the previous tables in place and the
    same texts, neither version has anything to score and v2 reuses both stored models."""
    import shutil

    from ltv.dbt_entrypoints import text_sentiment

    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(multilingual[4], copy)
    with duckdb.connect(str(copy)) as connection:
        settings = connection.sql("select * from intermediate.int_model_settings").df()
        runs_before = connection.sql("select count(*) from registry.model_run_log").fetchall()[0][0]
        texts = connection.table("intermediate.int_texts_masked")
        conversations = connection.sql(
            "select conversation_id, satisfaction_rating, response_hours from staging.stg_shop__support_conversations")
        for version in (1, 2):
            new_scores = text_sentiment(connection, texts, settings, version, f"ml.ml_text_sentiment_v{version}",
                                        conversations=conversations)
            assert len(new_scores) == 0, version
        assert connection.sql("select count(*) from registry.model_run_log").fetchall()[0][0] == runs_before


def test_language_detection_in_worker_processes_equals_one_process():
    from ltv.sentiment import score_textblob

    texts = [text for text, _ in LABELLED] * 3 + [None] + [f"Really good shoes #{number}" for number in range(200)]
    single = score_textblob(texts, english_only=True, workers=1)
    parallel = score_textblob(texts, english_only=True, parallel_threshold=10, workers=2)
    pd.testing.assert_frame_equal(parallel, single)
    assert list(single["language"][: len(LABELLED)]) == [language for _, language in LABELLED]
    assert pd.isna(single["language"].iloc[len(LABELLED) * 3])
