"""v2 scored fast: the hashed counts, the scores and the worker path equal scikit-learn's own."""

from __future__ import annotations

import logging
import random
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.pipeline import Pipeline

from ltv.sentiment import hashed_counts, score_sentiment_model, train_sentiment_model, trained_v2, workers
from ltv.sentiment.features import TOKEN_PATTERN, text_features
from ltv.sentiment.hashed_counts import FeatureCounter

VARIED = [
    "Great shoes, really comfortable. Would buy again!",
    "The sole isn't good. Not good at all :( and the box :-( was [damaged]",
    "Perfect :) :D :P :p =) ;-] :/ =/ :pizza ;p=p:p",
    "10:30 delivery, order #123; price = 49.99 EUR; size_42 pairs",
    "'quoted' words, a''b, it''s, '''', rock 'n' roll, isn't, won’t, don’t’s, ’edge’",
    "Produto ótimo, chegou rápido! Não recomendo a cor, é mais escura. Avaliação: 5 estrelas.",
    "Ação, coração, você; ÓTIMO atendimento — obrigado!",
    "这个产品很好，质量不错。物流太慢了！",
    "很好isn't 不好 good很 好",
    "この靴はとても良いです。最悪ではない。カタカナ",
    "배송이 빨라요. 품질 최고!",
    "😀👍 great 🔥🔥 terrible 😡 ❤️",
    "ΟΔΟΣ ΟΔΟΣ. ΣΟΦΊΑ Σ ΑΣ, İSTANBUL ǅEMAL ß ẞ ﬁne Ⅻ ½ ① ٣ ໑",
    "NUL\x00inside a text\x00 and\x00\x00twice",
    "tabs\tand\nnew\r\nlines\u2028and\u00a0nbsp\u3000ideographic space",
    "",
    "   ",
    "!!! ??? ... (((( )))) '' \"\" :::",
    "_ __ a_b 1_2 ３４ ｆｕｌｌｗｉｄｔｈ",
    "e\u0301 combining acute, a\u0308, \u200bzero\u200bwidth",
]


def _vectorizer() -> HashingVectorizer:
    return trained_v2._hasher()


def _assert_same_matrix(mine, theirs):
    assert mine.shape == theirs.shape
    assert np.array_equal(mine.indptr, theirs.indptr)
    assert np.array_equal(mine.indices, theirs.indices)
    assert np.array_equal(mine.data, theirs.data)
    assert (mine.data.dtype, mine.indices.dtype, mine.indptr.dtype) == (
        theirs.data.dtype, theirs.indices.dtype, theirs.indptr.dtype)


def _random_texts(count: int, seed: int) -> list[str]:
    """Texts drawn from pieces that hit every branch: ASCII words and punctuation, apostrophes,
    emoticon starts, NUL, Latin accents, Greek capitals (final sigma), CJK, emoji, odd spaces."""
    rng = random.Random(seed)
    pieces = ["good", "Not", "isn't", "'", "''", "’", " ", "  ", ".", ",", ":", ";", "=", "-", ")", "(",
              "]", "[", "p", "P", "D", "/", "_", "42", "\x00", "é", "ÃO", "ΟΔΟΣ", "Σ", "很", "好", "很好",
              "です", "품질", "😀", "\n", "\t", "İ", "ß", "\u0301", "ǅ", "x", "Y", "z9", "\u00a0"]
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 30))) for _ in range(count)]


def test_counts_equal_the_hashing_vectorizer_on_varied_texts():
    counter = FeatureCounter(trained_v2.HASHED_FEATURES)
    _assert_same_matrix(counter.counts(VARIED), _vectorizer().transform(VARIED))


def test_counts_equal_the_hashing_vectorizer_on_random_texts_and_across_batches():
    texts = _random_texts(3_000, seed=5)
    expected = _vectorizer().transform(texts)
    counter = FeatureCounter(trained_v2.HASHED_FEATURES)
    _assert_same_matrix(counter.counts(texts), expected)
    # a counter that has seen other texts (and remembers their tokens) counts the same
    counter.counts(_random_texts(500, seed=6))
    _assert_same_matrix(counter.counts(texts[1_000:2_000]), expected[1_000:2_000])


def test_a_counter_that_forgets_what_it_remembered_counts_the_same(monkeypatch):
    monkeypatch.setattr(hashed_counts, "MAX_REMEMBERED", 50)
    texts = _random_texts(600, seed=15)
    counter = FeatureCounter(trained_v2.HASHED_FEATURES)
    for start in range(0, 600, 100):
        _assert_same_matrix(counter.counts(texts[start : start + 100]), _vectorizer().transform(texts[start : start + 100]))
        assert len(counter._pair_column) <= 50 + 100 * 30  # forgotten before each batch past the bound


def test_plain_ascii_splitting_equals_the_token_pattern():
    """The str.split path is only taken for ASCII texts without NUL or emoticon; on those it must
    give exactly the pattern's tokens, whatever the apostrophes, colons and punctuation."""
    import re

    rng = random.Random(3)
    alphabet = "aZ9_' '''..,!?-()[]/\"#$%&*+<>@\\^`{|}~\t\nxyzABCpPdD:;="
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(20_000)]
    texts += ["'", "''", "'a", "a'", "a'b", "a''b", "a'b'c", "'a'b'", " ' ", "don't'", "x'''y", "10:30",
              "a=b", ":D", ":-D", "x;-d", ":-", "=-x", ":x"]
    plain = [text for text in texts if hashed_counts._is_plain(text)]
    assert len(plain) > 5_000 and ":D" in plain and ":-D" in plain and "10:30" in plain
    assert not any(hashed_counts._is_plain(text) for text in [":p", ":-P", "=/", ";]", "a\x00b", "é"])
    texts = plain
    pattern = re.compile(TOKEN_PATTERN)
    expected = []
    for number, text in enumerate(texts):
        if number:
            expected.append("\x00")
        expected += pattern.findall(text.lower())
    assert hashed_counts._plain_tokens(texts) == expected


def test_lower_casing_a_joined_batch_equals_lower_casing_each_text():
    """Final sigma depends on the neighbours of a capital sigma; NUL between texts must act as the
    text's end and start do."""
    texts = ["ΟΔΟΣ", "Σ", "ΑΣ", "ΣΑ", "Α\u0301Σ", "Σ\u0301Α", "'Σ", "Σ'", "ΣΣ", "", "İ"]
    for left in texts:
        for right in texts:
            assert f"{left}\x00{right}".lower() == f"{left.lower()}\x00{right.lower()}"


def test_counts_of_one_very_long_text_and_of_nothing():
    long_text = " ".join(VARIED) * 200  # ~100,000 characters
    counter = FeatureCounter(trained_v2.HASHED_FEATURES)
    _assert_same_matrix(counter.counts([long_text]), _vectorizer().transform([long_text]))
    assert counter.counts([]).shape == (0, trained_v2.HASHED_FEATURES)


@pytest.mark.parametrize("row_count, n_features", [(0, 8), (5, 8), (300, 2**20), (7, 3)])
def test_the_count_matrix_is_scipys_coo_to_csr_sorted_and_summed(row_count, n_features):
    """The one-sort construction of the counts equals scipy's conversion, empty rows and repeated
    (row, column) pairs included."""
    import scipy.sparse as sp

    rng = np.random.default_rng(row_count)
    entries = row_count * 6
    rows, columns = rng.integers(0, max(row_count, 1), entries), rng.integers(0, n_features, entries)
    expected = sp.coo_matrix((np.ones(entries), (rows, columns)), shape=(row_count, n_features)).tocsr()
    expected.sum_duplicates()
    expected.sort_indices()
    _assert_same_matrix(hashed_counts._count_matrix(rows, columns, row_count, n_features), expected)


def test_the_rare_hash_of_minus_two_to_the_31_maps_as_scikit_learn_maps_it(monkeypatch):
    """sklearn's _hashing_fast: abs(-2**31) is undefined, so it uses (2**31 - 1 - (n - 1)) % n."""
    monkeypatch.setattr(hashed_counts, "murmurhash3_32", lambda feature, seed: -(2**31))
    assert hashed_counts._bucket("anything", 2**20) == (2**31 - 1 - (2**20 - 1)) % 2**20 == 0
    assert hashed_counts._bucket("anything", 10) == (2**31 - 1 - 9) % 10 == 8


@pytest.fixture(scope="module")
def model():
    rng = random.Random(11)
    texts = [rng.choice(VARIED) + " " + " ".join(rng.sample(VARIED, 2)) for _ in range(400)]
    ratings = [rng.randint(1, 5) for _ in texts]
    texts += ["good great love"] * 30 + ["bad awful hate"] * 30
    ratings += [5] * 30 + [1] * 30
    return train_sentiment_model(texts, ratings, seed=42)[0]


def _varied_scoring_texts() -> list:
    return [*VARIED, " ".join(VARIED) * 200, None, *(_random_texts(2_000, seed=9)), None, "good", "good"]


def test_scores_equal_the_pipelines_own_predict(model):
    texts = _varied_scoring_texts()
    scores = score_sentiment_model(model, texts, workers_count=1).to_numpy()
    present = [text is not None for text in texts]
    expected = np.clip(model.predict([text for text in texts if text is not None]), -1.0, 1.0)
    assert np.isnan(scores[[not flag for flag in present]]).all()
    np.testing.assert_allclose(scores[present], expected, rtol=0, atol=1e-12)
    assert np.array_equal(scores[present], expected)  # in fact to the last bit


def test_training_matrix_equals_the_pipelines_fit_transform():
    documents = np.array(_random_texts(800, seed=2) + VARIED, dtype=object)
    vectorizer, matrix = trained_v2._vectorize(documents)
    reference = Pipeline([("hashing", _vectorizer()), ("tfidf", TfidfTransformer(sublinear_tf=True))])
    _assert_same_matrix(matrix, reference.fit_transform(documents))
    assert np.array_equal(vectorizer.named_steps["tfidf"].idf_, reference.named_steps["tfidf"].idf_)


def test_training_matrix_counted_in_chunks_is_the_same(monkeypatch):
    documents = np.array(_random_texts(700, seed=4) + VARIED + [" ".join(VARIED) * 50], dtype=object)
    _, whole = trained_v2._vectorize(documents)
    monkeypatch.setattr(trained_v2, "SCORING_CHUNK", 64)
    _, chunked = trained_v2._vectorize(documents)
    _assert_same_matrix(chunked, whole)
    assert chunked.has_sorted_indices and chunked.format == "csr"


def test_a_model_with_another_hashing_step_is_scored_by_its_own_pipeline():
    from sklearn.linear_model import Ridge

    texts = ["good shoes", "bad shoes", "fine shoes"] * 3
    other = Pipeline([("hashing", HashingVectorizer(n_features=2**10, alternate_sign=False)),
                      ("tfidf", TfidfTransformer()), ("ridge", Ridge())]).fit(texts, [1.0, -1.0, 0.0] * 3)
    assert not trained_v2._uses_text_features(other.named_steps["hashing"])
    assert np.array_equal(score_sentiment_model(other, texts, workers_count=1).to_numpy(),
                          np.clip(other.predict(texts), -1, 1))


def test_worker_path_equals_in_process_path(model, spy_on_workers, caplog):
    texts = _varied_scoring_texts()
    single = score_sentiment_model(model, texts, workers_count=1)
    with caplog.at_level(logging.WARNING, logger="ltv.sentiment"):
        parallel = score_sentiment_model(model, texts, workers_count=2, parallel_threshold=100)
    assert spy_on_workers == [(sum(text is not None for text in texts), 2)]
    assert not caplog.records
    pd.testing.assert_series_equal(parallel, single)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_children_keep_their_freed_memory_on_linux(monkeypatch):
    """A child sets glibc's trim threshold (and freezes the inherited objects) before its task: the
    kernel's page faults were 30% of a scoring worker's time without it."""
    calls = []
    monkeypatch.setattr(workers, "_MALLOPT", lambda option, value: calls.append((option, value)) or 1)
    assert workers._glibc_mallopt() is not None
    parts = workers._run_in_children(lambda start, end, heartbeat: str(calls).encode(), 2, 2)
    assert parts == [str([(workers._M_TRIM_THRESHOLD, workers._CHILD_TRIM_THRESHOLD)]).encode()] * 2
    assert calls == []  # only the children called it


def test_v2_workers_fork_from_a_parent_with_busy_duckdb_and_fitting_threads(model, spy_on_workers, caplog):
    """In dbt the parent holds DuckDB's worker threads and runs other models' fits in threads of its
    own: forking must still work and give the in-process numbers."""
    import threading

    import duckdb

    connection = duckdb.connect()
    connection.execute("SET threads TO 4")
    stop = threading.Event()

    def keep_duckdb_busy():
        cursor = connection.cursor()
        while not stop.is_set():
            cursor.execute("SELECT sum(i * i) FROM range(3000000) t(i)").fetchall()

    def keep_fitting():
        while not stop.is_set():
            trained_v2._out_of_fold(np.array(VARIED * 5, dtype=object), np.arange(100) % 5 + 1.0, seed=1)

    threads = [threading.Thread(target=keep_duckdb_busy), threading.Thread(target=keep_fitting)]
    for thread in threads:
        thread.start()
    texts = _random_texts(2_000, seed=13)
    try:
        with caplog.at_level(logging.WARNING, logger="ltv.sentiment"):
            parallel = score_sentiment_model(model, texts, workers_count=2, parallel_threshold=100)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert connection.execute("SELECT 42").fetchone() == (42,)
    connection.close()
    assert spy_on_workers == [(2_000, 2)]
    assert not caplog.records
    pd.testing.assert_series_equal(parallel, score_sentiment_model(model, texts, workers_count=1))


def test_a_dying_v2_worker_falls_back_to_one_process(model, monkeypatch, caplog):
    import os

    monkeypatch.setattr(workers, "_child", lambda task, start, end, connection: os._exit(3))
    texts = _random_texts(300, seed=4)
    with caplog.at_level(logging.WARNING, logger="ltv.sentiment"):
        scored = score_sentiment_model(model, texts, workers_count=2, parallel_threshold=100)
    assert "v2 sentiment scoring failed" in caplog.text and "scoring in one process" in caplog.text
    pd.testing.assert_series_equal(scored, score_sentiment_model(model, texts, workers_count=1))


def test_text_features_unchanged():
    """The features themselves (moved to ltv.sentiment.features) are those of the stored models."""
    assert text_features("Not good :)") == ["not", "good", "not good", ":)", "good :)"]
    assert text_features("很好。Isn't") == ["很", "好", "很好", "isn't"]
    assert trained_v2.text_features is text_features


# --- the ridge fit ------------------------------------------------------------------------------------


def _ridge_cases():
    """TF-IDF matrices as v2 trains on (varied texts, an empty one, duplicates), their row subsets as the
    folds use, and targets: stars, fractional satisfaction around its mean, a constant."""
    texts = _random_texts(1_500, seed=21) + VARIED + ["", "good good", "good good"]
    matrix = trained_v2._vectorize(np.array(texts, dtype=object))[1]
    rng = np.random.default_rng(4)
    stars = trained_v2._rating_target(rng.integers(1, 6, len(texts)).astype(float))
    satisfaction = rng.normal(3.2, 1.0, len(texts))
    subset = np.sort(rng.choice(len(texts), 1_000, replace=False))
    return [(matrix, stars, 1.0), (matrix, satisfaction - satisfaction.mean(), 3.0),
            (matrix[subset], stars[subset], 1.0), (matrix, np.full(len(texts), 0.5), 1.0)]


@pytest.mark.parametrize("case", range(4))
def test_fit_ridge_equals_scikit_learns_ridge_to_the_last_bit(case):
    from sklearn.linear_model import Ridge

    from ltv.sentiment.ridge_fit import fit_ridge

    matrix, target, alpha = _ridge_cases()[case]
    expected, fitted = Ridge(alpha=alpha).fit(matrix, target), fit_ridge(matrix, target, alpha)
    assert np.array_equal(fitted.coef_, expected.coef_)
    assert fitted.intercept_ == expected.intercept_ and type(fitted.intercept_) is type(expected.intercept_)
    assert set(vars(fitted)) == set(vars(expected))
    assert (fitted.n_features_in_, fitted.solver_, fitted.n_iter_) == (expected.n_features_in_, "sparse_cg", None)
    assert np.array_equal(fitted.predict(matrix), expected.predict(matrix))


def test_fit_ridge_leaves_other_shapes_to_scikit_learn():
    from sklearn.linear_model import Ridge

    from ltv.sentiment.ridge_fit import fit_ridge

    rng = np.random.default_rng(1)
    dense = rng.normal(size=(50, 5))  # more rows than columns, and dense: scikit-learn's own path
    target = dense @ np.arange(5.0) + rng.normal(size=50)
    assert np.array_equal(fit_ridge(dense, target, 1.0).coef_, Ridge(alpha=1.0).fit(dense, target).coef_)


def test_the_training_sample_taken_in_sql_is_the_one_training_takes(monkeypatch):
    """The entrypoint loads only the sample (order by text_hash, rating limit MAX_TRAINING_ROWS):
    training on it gives the model that training on every rated text gives."""
    import duckdb

    from ltv.sentiment import text_hash

    monkeypatch.setattr(trained_v2, "MAX_TRAINING_ROWS", 300)
    rng = random.Random(8)
    texts = [rng.choice(VARIED[:6]) + f" {rng.randint(0, 400)}" for _ in range(1_000)]  # with repeats
    ratings = [rng.randint(1, 5) for _ in texts]
    frame = pd.DataFrame({"masked_text": texts, "rating": ratings, "text_hash": text_hash(texts)})
    connection = duckdb.connect()
    sample = connection.from_df(frame.sample(frac=1.0, random_state=3)).order(
        ", ".join(trained_v2.TRAINING_SAMPLE_ORDER)).limit(trained_v2.MAX_TRAINING_ROWS).project(
        "masked_text, rating").df()
    expected = trained_v2._training_sample(trained_v2._training_rows(texts, ratings))
    assert (sorted(zip(sample["masked_text"], sample["rating"], strict=True))
            == sorted(zip(expected["text"], expected["rating"], strict=True)))
    everything, everything_metrics = train_sentiment_model(texts, ratings, seed=42)
    sampled, sampled_metrics = train_sentiment_model(sample["masked_text"].tolist(), sample["rating"].tolist(), seed=42)
    assert sampled_metrics == everything_metrics
    assert np.array_equal(sampled.named_steps["ridge"].coef_, everything.named_steps["ridge"].coef_)


def test_the_support_model_trains_on_a_bounded_sample_too(model, monkeypatch):
    from ltv.sentiment import choose_support_model

    monkeypatch.setattr(trained_v2, "MAX_TRAINING_ROWS", 200)
    rng = random.Random(12)
    texts = [rng.choice(VARIED) + f" ticket {number}" for number in range(400)]
    satisfaction = [rng.randint(1, 5) for _ in texts]
    _, decision = choose_support_model(model, texts, satisfaction, [float(rng.randint(0, 48)) for _ in texts])
    assert decision["support_model"]["training_rows"] == 200
    assert decision["review_model"]["rows"] == 200


@pytest.mark.parametrize("large", [False, True])
def test_arrow_texts_read_back_every_slice_of_a_chunked_sliced_column(large):
    import pyarrow as pa

    from ltv.sentiment.arrow_texts import arrow_texts

    kind = pa.large_string() if large else pa.string()
    texts = [*VARIED, " ".join(VARIED) * 50]
    column = pa.chunked_array([pa.array(["skipped", *texts[:7]], kind), pa.array([], kind),
                               pa.array(texts[7:], kind)]).slice(1)
    reader = arrow_texts(column)
    assert len(reader) == len(texts) and reader[0 : len(texts)] == texts
    for start in range(0, len(texts) + 1, 3):
        for stop in range(start, len(texts) + 2, 4):
            assert reader[start:stop] == texts[start:stop]
    assert arrow_texts(pa.array(["a", None], kind)) is None  # nulls: the caller converts instead


def test_arrow_input_scores_as_the_pipelines_own_predict_in_workers_too(model, spy_on_workers, caplog):
    """Scoring an Arrow column (what the dbt model passes: read by the workers in place) gives the
    pipeline's predictions to the last bit, with nulls (converted the old way) as NaN."""
    import pyarrow as pa

    texts = [text for text in _varied_scoring_texts() if text is not None]
    expected = np.clip(model.predict(texts), -1.0, 1.0)
    column = pa.chunked_array([pa.array(texts[:900]), pa.array(texts[900:])])
    with caplog.at_level(logging.WARNING, logger="ltv.sentiment"):
        parallel = score_sentiment_model(model, column, workers_count=2, parallel_threshold=100).to_numpy()
    assert spy_on_workers == [(len(texts), 2)] and not caplog.records
    assert np.array_equal(parallel, expected)
    assert np.array_equal(score_sentiment_model(model, column, workers_count=1).to_numpy(), expected)
    with_nulls = score_sentiment_model(model, pa.array([None, *texts[:50], None]), workers_count=1).to_numpy()
    assert np.isnan(with_nulls[[0, 51]]).all() and np.array_equal(with_nulls[1:51], expected[:50])
