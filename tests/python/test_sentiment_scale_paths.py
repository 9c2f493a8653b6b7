"""The shortcuts sentiment takes at a million texts give the numbers of the plain way.

* language detection reads ASCII texts with str.translate instead of the token regex;
* v1's tokenizer looks up whitespace-separated pieces it has split before;
* ml_text_sentiment vN is assembled as an Arrow table from the texts' hashes (each distinct text
  scored once), instead of a pandas frame merged on the hashes.
Each is compared with a reference computed another way: the regex, TextBlob itself, score_texts.
"""

from __future__ import annotations

import random
import re
import unicodedata

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from textblob import TextBlob

from ltv.dbt_entrypoints import text_models
from ltv.sentiment import (
    NOT_ENGLISH,
    language,
    score_texts,
    synthetic_review,
    text_hash,
    textblob_v1,
    train_sentiment_model,
)
from ltv.sentiment.arrow_texts import ArrowTexts, arrow_texts

# --- language detection on ASCII --------------------------------------------------------------------


def _reference_words(text: str) -> list[str]:
    """The rule as the module docstring states it: \\w+ runs, NFC, lower case, letters only."""
    return [token for token in re.findall(r"\w+", unicodedata.normalize("NFC", text).lower()) if token.isalpha()]


def _reference_language(text: str) -> str:
    """detect_language's rule for an ASCII text, counted word by word."""
    words = _reference_words(text)
    if not words:
        return language.UNDETERMINED
    english_words = language._english_words()
    english = sum(1 for word in words if word in english_words)
    foreign = sum(1 for word in words if word not in english_words and word in language._FOREIGN_FUNCTION_WORDS)
    share_ok = english >= language.ENGLISH_WORD_SHARE * len(words)
    return language.ENGLISH if share_ok and english >= 2 * foreign else "other"


def _ascii_texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    vocabulary = ["good", "bad", "the", "shoes", "não", "que", "der", "und", "pas", "très", "a", "de", "no",
                  "isn't", "don't", "x2", "o_o", "R0001", "__", "'", "Great", "NOT", "muy", "het"]
    vocabulary = [word for word in vocabulary if word.isascii()]
    texts = []
    for _ in range(count):
        pieces = [rng.choice(vocabulary) if rng.random() < 0.7 else
                  "".join(rng.choice([chr(code) for code in range(128)]) for _ in range(rng.randint(1, 6)))
                  for _ in range(rng.randint(0, 12))]
        texts.append("".join(piece + rng.choice([" ", ", ", ".", "!", "\t", "-", "'", ""]) for piece in pieces))
    return texts


def test_ascii_words_and_language_equal_the_regex_rule():
    texts = _ascii_texts(3000, seed=5) + ["", "123 456", "The shoes are good", "O produto e bom e que nao",
                                          "Die Schuhe sind sehr gut und", "good_bad good-bad", "a\x00b\x7fc"]
    assert all(text.isascii() for text in texts)
    for text in texts:
        assert language._words(text) == _reference_words(text), text
        assert language.detect_language(text) == _reference_language(text), text
    found = {language.detect_language(text) for text in texts}
    assert {language.ENGLISH, "other", language.UNDETERMINED} <= found


def test_non_ascii_texts_still_take_the_regex_path():
    assert language._words("Ça coûte ＡＢＣ ﬁne") == _reference_words("Ça coûte ＡＢＣ ﬁne")
    assert language.detect_language("この靴はとても良いです") == "ja"
    assert language.detect_language("O produto é muito bom, não gostei da cor") == "other"


# --- v1's tokenizer with remembered pieces ------------------------------------------------------------

_PIECES = ["good", "good,", "good.", "bad!", "e.g.", "U.S.", "Mr.", "etc.", "(!)", "( ! )", "...", "wow...",
           "'quoted'", "“nice”", "isn't", "can't", "I'm", ":)", ":-(", "<3", "♥", "XD", "x D", "(((", ")))",
           "\"yes\"", "end.\n\nNext", "!!!", "?!", "R00000001)", "(update", "$15.99", "very", "not", "really"]


def _piece_texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 15))) for _ in range(count)]


def test_remembered_pieces_score_as_textblob_does(monkeypatch):
    texts = _piece_texts(1500, seed=9)
    expected = [tuple(TextBlob(text).sentiment) for text in texts]
    monkeypatch.setattr(textblob_v1, "_PIECES", {})
    first = [textblob_v1._pattern_sentiment(text) for text in texts]  # fills the memory
    again = [textblob_v1._pattern_sentiment(text) for text in texts]  # reads from it
    assert first == expected and again == expected
    assert len(textblob_v1._PIECES) > 10


def test_a_full_piece_memory_still_splits_new_pieces(monkeypatch):
    monkeypatch.setattr(textblob_v1, "_PIECES", {})
    monkeypatch.setattr(textblob_v1, "_MAX_KNOWN_PIECES", 3)
    texts = _piece_texts(300, seed=10)
    assert [textblob_v1._pattern_sentiment(text) for text in texts] == [tuple(TextBlob(t).sentiment) for t in texts]
    assert len(textblob_v1._PIECES) == 3


# --- the result table, assembled in Arrow ---------------------------------------------------------------


def _to_score(rows: list[tuple[str, str]]) -> pa.Table:
    frame = pd.DataFrame(rows, columns=["text_source", "text"])
    frame["text_hash"] = text_hash(frame["text"])
    frame = frame.sort_values(["text_source", "text_hash"]).reset_index(drop=True)
    return pa.table({"text_source": frame["text_source"].astype(object), "text_hash": frame["text_hash"].astype(object),
                     "text": frame["text"].astype(object)})


_ROWS = [("review", "Great shoes!"), ("review", "Not good."), ("review", "Awful :("),
         ("review", "O produto é muito bom e não quebrou"), ("review", ":)"),
         ("support_message", "Great shoes!"), ("support_message", "Where is my order? Terrible."),
         ("support_message", "Die Lieferung ist nicht angekommen und das ist sehr schlecht")]


def _written(table: pa.Table) -> pd.DataFrame:
    """The table as DuckDB stores it (what dbt writes)."""
    connection = duckdb.connect()
    connection.register("result", table)
    return connection.sql("select * from result").df()


def test_v1_table_equals_score_texts_row_by_row():
    to_score = _to_score(_ROWS)
    written = _written(text_models._v1_scores(to_score, "fingerprint-1"))
    expected = score_texts(pd.DataFrame({"text_hash": to_score["text_hash"].to_pylist(),
                                         "text": to_score["text"].to_pylist()}), 1).set_index("text_hash")
    assert len(written) == len(_ROWS) and list(written.columns) == text_models.SENTIMENT_COLUMNS
    assert written["text_source"].tolist() == to_score["text_source"].to_pylist()
    for row in written.itertuples():
        reference = expected.loc[row.text_hash]
        for column in ("polarity", "subjectivity", "language", "not_scored_reason"):
            value, wanted = getattr(row, column), reference[column]
            assert (pd.isna(value) and pd.isna(wanted)) or value == wanted, (row.text_hash, column)
    assert (written["model_version"] == 1).all() and (written["model_fingerprint"] == "fingerprint-1").all()
    not_english = written["not_scored_reason"] == NOT_ENGLISH
    assert not_english.sum() == 2 and written.loc[not_english, "polarity"].isna().all()


def test_v1_scores_each_distinct_text_once(monkeypatch):
    seen = []
    scorer = textblob_v1.score_distinct_texts

    def spy(texts, *args, **kwargs):
        seen.append(texts)
        return scorer(texts, *args, **kwargs)

    monkeypatch.setattr(textblob_v1, "score_distinct_texts", spy)
    text_models._v1_scores(_to_score(_ROWS), "fingerprint")
    # Handed over as the Arrow column read in place (ArrowTexts), not a list of Python strings.
    assert len(seen) == 1 and isinstance(seen[0], ArrowTexts)
    assert sorted(seen[0][0 : len(seen[0])]) == sorted({text for _, text in _ROWS})


def test_v1_workers_reading_arrow_in_place_score_as_a_list_does(spy_on_workers):
    """More texts than a worker's slice, non-ASCII among them, scored by two forked workers that
    decode the parent's Arrow buffers: the same numbers as the plain list in one process."""
    rng = random.Random(7)
    texts = [f"{synthetic_review(rng, 60)} {'très bon, ça marche' if number % 7 == 0 else ''} #{number}"
             for number in range(textblob_v1._TEXTS_PER_SLICE + 2_500)]
    in_place = arrow_texts(pa.chunked_array([pa.array(texts[:4_000]), pa.array(texts[4_000:])]))
    parallel = textblob_v1.score_distinct_texts(in_place, parallel_threshold=100, workers=2, english_only=True)
    single = textblob_v1.score_distinct_texts(texts, workers=1, english_only=True)
    assert spy_on_workers == [(len(texts), 2)]
    for got, wanted in zip(parallel, single, strict=True):
        np.testing.assert_array_equal(got, wanted)
    scored = np.flatnonzero(~np.isnan(parallel[0]))
    assert len(scored) > len(texts) // 2
    for position in scored[::997]:  # and TextBlob's own numbers, across both workers' slices
        assert (parallel[0][position], parallel[1][position]) == TextBlob(texts[position]).sentiment


def test_nan_scores_are_written_as_null_not_nan():
    written = _written(text_models._v1_scores(_to_score(_ROWS), "fingerprint"))
    connection = duckdb.connect()
    connection.register("written", written)
    nulls, nans = connection.sql("select count(*) filter (polarity is null), count(*) filter (isnan(polarity)) "
                                 "from written").fetchall()[0]
    assert (nulls, nans) == (2, 0)


@pytest.fixture(scope="module")
def model():
    rng = random.Random(3)
    texts = [synthetic_review(rng, 120) for _ in range(300)]
    ratings = [1 + (sum(map(ord, text)) % 5) for text in texts]
    return train_sentiment_model(texts, ratings, seed=1)[0]


def test_v2_table_scores_each_source_with_its_model(model):
    other = train_sentiment_model([text for _, text in _ROWS] * 10, [1, 2, 3, 4, 5, 1, 2, 3] * 10, seed=1)[0]
    to_score = _to_score(_ROWS)
    written = _written(text_models._v2_scores(to_score, {"review": (model, "fp-r"),
                                                         "support_message": (other, "fp-s")}, 2))
    assert sorted(written["text_source"]) == sorted(source for source, _ in _ROWS)
    for source, fitted, fingerprint in (("review", model, "fp-r"), ("support_message", other, "fp-s")):
        part = written[written["text_source"] == source]
        frame = pd.DataFrame({"text_hash": list(part["text_hash"]),
                              "text": [dict(zip(to_score["text_hash"].to_pylist(), to_score["text"].to_pylist(),
                                                strict=True))[key] for key in part["text_hash"]]})
        expected = score_texts(frame, 2, model=fitted)
        np.testing.assert_array_equal(part["polarity"].to_numpy(), expected["polarity"].to_numpy())
        assert (part["model_fingerprint"] == fingerprint).all()
    assert written["subjectivity"].isna().all() and written["language"].isna().all()
    assert written["not_scored_reason"].isna().all() and (written["model_version"] == 2).all()


def test_nothing_to_score_gives_typed_empty_tables(model):
    empty = _to_score(_ROWS).slice(0, 0)
    for table in (text_models._v1_scores(empty, "fp"), text_models._v2_scores(empty, {"review": (model, "fp")}, 2)):
        assert table.num_rows == 0 and table.schema == text_models._sentiment_schema()


# --- int_texts_masked: the hash comes from DuckDB ------------------------------------------------------


def test_masked_texts_are_keyed_by_the_sha256_of_their_utf8_text():
    connection = duckdb.connect()
    reviews = connection.sql("""
        select * from (values
            ('r1', 'u1', timestamp '2025-01-01', 5, 'Great shoes! Call me at 415-555-0132'),
            ('r2', 'u2', timestamp '2025-01-02', 1, '   '),
            ('r3', 'u3', timestamp '2025-01-03', 4, 'Schön, très bien, この靴 😀'),
            ('r4', 'u4', timestamp '2025-01-04', 3, NULL),
            ('r5', 'u5', timestamp '2025-01-05', 2, '=1+1 mail john@example.com'))
        as t(review_id, user_id, created_at, rating, comment)""")
    conversations = connection.sql("""
        select 'c1' as conversation_id, 'u1' as user_id, timestamp '2025-02-01' as opened_at,
               'Where is my order? Great shoes! Call me at 415-555-0132' as message""")
    table = text_models.texts_masked(connection, reviews, conversations, pd.DataFrame()).df()
    assert len(table) == 6
    present = table["masked_text"].notna()
    assert list(table.loc[present, "text_hash"]) == list(text_hash(table.loc[present, "masked_text"]))
    assert table.loc[~present, "text_hash"].isna().all() and (~present).sum() == 2
    assert "[PHONE]" in table.loc[0, "masked_text"] and table.loc[4, "masked_text"].startswith("'=")
