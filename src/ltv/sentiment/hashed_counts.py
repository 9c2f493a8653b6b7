"""v2's hashed feature counts, computed fast and exactly equal to its HashingVectorizer's.

scikit-learn's HashingVectorizer runs `text_features` on every text in Python and then hashes
every feature occurrence: at a million reviews and support messages that was most of v2's time
(~45 µs a text). `FeatureCounter.counts` builds the very same count matrix (same columns, same
counts, sorted CSR like the vectorizer's) while touching each token occurrence only in C or numpy:

* Tokens: a chunk of texts is joined with a NUL between texts and split in one pass. Texts that are
  ASCII without an emoticon (most) are split with str.translate and str.split (see `_plain_tokens`
  for why that is the token pattern there); the others go through the token pattern itself, NUL
  added as a last alternative. NUL is a non-word character outside
  every alternative, so adding it changes no other match, and lower-casing the joined chunk equals
  lower-casing each text (NUL is neither cased nor case-ignorable, so it ends a final-sigma context
  as the end of a text does). A text holding a NUL has it replaced by a space (the same for both
  reasons) so that NULs mark text boundaries only.
* Each distinct token, word pair and CJK run is hashed once (murmurhash3, as the vectorizer) and
  remembered for the chunks that follow; occurrences are numbered with a dict and handled as
  numpy arrays.
* (text, column) pairs are counted by one numpy sort of the pairs packed in an int64.

The matrix then goes through the model's own TF-IDF and ridge steps, so a score is the pipeline's
to the last bit (tests/python/test_sentiment_fast_v2.py checks it on varied texts).
"""

from __future__ import annotations

import re
from itertools import repeat

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils import murmurhash3_32

from ltv.sentiment.features import TOKEN_PATTERN, is_cjk_run

_BREAK = "\x00"
_SPACED_BREAK = " \x00 "
_TOKEN_OR_BREAK = re.compile(TOKEN_PATTERN + "|" + _BREAK)
# An emoticon of the token pattern in a text before lower-casing ("P" lower-cases into its class,
# "D" out of it). One can take a following "p" off a word (":pizza" is ":p" + "izza").
_EMOTICON = re.compile(r"[:;=]-?[()\[\]/pP]")
_WORD_CHARACTERS = "abcdefghijklmnopqrstuvwxyz0123456789_"
# ASCII letters lower-cased (as str.lower does), word characters, the apostrophe and NUL kept;
# every other ASCII character becomes a space.
_PLAIN_TABLE = str.maketrans(
    {chr(code): " " for code in range(128)}
    | {character: character for character in _WORD_CHARACTERS + "'" + _BREAK}
    | {character.upper(): character for character in _WORD_CHARACTERS if character.isalpha()}
)
_BREAK_KIND, _WORD_KIND, _CJK_KIND = 0, 1, 2


def _plain_tokens(texts: list[str]) -> list[str]:
    """The token pattern's matches in `texts` (all `_is_plain`), NUL between texts.

    In ASCII without emoticons the pattern's tokens are the runs of [a-z0-9_] (lower-cased) with
    apostrophes that have such a character on both sides ("isn't", not "'quoted'" nor "a''b").
    So: every other character becomes a space, then every apostrophe next to a space or another
    apostrophe does too (all others have word characters on both sides), and the rest splits on
    spaces."""
    spaced = f" {_SPACED_BREAK.join(texts)} ".translate(_PLAIN_TABLE)
    return spaced.replace("''", "  ").replace(" '", "  ").replace("' ", "  ").split()


def _is_plain(text: str) -> bool:
    """Whether `_plain_tokens` reads `text` as the token pattern does: ASCII, no NUL, no emoticon.
    (The substring tests are a fast way past the regular expression for most texts.)"""
    return text.isascii() and _BREAK not in text and (
        (":" not in text and ";" not in text and "=" not in text) or _EMOTICON.search(text) is None)


def _pattern_tokens(texts: list[str]) -> list[str]:
    """The token pattern's matches in `texts` (any), NUL between texts."""
    joined = _BREAK.join(texts)
    if joined.count(_BREAK) != len(texts) - 1:
        joined = _BREAK.join(text.replace(_BREAK, " ") for text in texts)
    return _TOKEN_OR_BREAK.findall(joined.lower())


def _bucket(feature: str, n_features: int) -> int:
    """The column HashingVectorizer gives `feature` (sklearn.feature_extraction._hashing_fast)."""
    hashed = murmurhash3_32(feature, 0)
    return (2147483647 - (n_features - 1)) % n_features if hashed == -(2**31) else abs(hashed) % n_features


# What a FeatureCounter remembers before it forgets and starts again (between two batches, so the
# counts never change): real shops' texts have millions of distinct word pairs, each costing ~100
# bytes in a dict, and a worker must not grow without bound over a million texts.
MAX_REMEMBERED = 2_000_000


class FeatureCounter:
    """Counts of hashed `text_features`, as HashingVectorizer(analyzer=text_features,
    n_features, alternate_sign=False, norm=None, dtype=float64) makes them. Remembers the column
    of the tokens and word pairs it has seen (up to MAX_REMEMBERED of each)."""

    def __init__(self, n_features: int):
        self.n_features = n_features
        self._forget()

    def _forget(self) -> None:
        self._token_id: dict[str, int] = {_BREAK: 0}
        self._tokens: list[str] = [_BREAK]
        self._kinds = [_BREAK_KIND]
        self._unigrams = [-1]  # a word's column; -1 for NUL and CJK runs
        self._cjk_start, self._cjk_count, self._cjk_columns = [0], [0], []
        self._pair_column: dict[int, int] = {}

    def _add_token(self, token: str) -> None:
        self._token_id[token] = len(self._tokens)
        self._tokens.append(token)
        self._cjk_start.append(len(self._cjk_columns))
        if is_cjk_run(token):  # text_features: each character and each pair of adjacent ones
            features = [*token, *(token[i : i + 2] for i in range(len(token) - 1))]
            self._cjk_columns.extend(_bucket(feature, self.n_features) for feature in features)
            self._kinds.append(_CJK_KIND)
            self._unigrams.append(-1)
            self._cjk_count.append(len(features))
        else:
            self._kinds.append(_WORD_KIND)
            self._unigrams.append(_bucket(token, self.n_features))
            self._cjk_count.append(0)

    def _ids(self, tokens: list[str]) -> np.ndarray:
        known = self._token_id
        ids = np.fromiter(map(known.get, tokens, repeat(-1)), dtype=np.int64, count=len(tokens))
        missing = np.flatnonzero(ids < 0)
        if len(missing):  # new tokens, numbered in order of appearance
            new = list(map(tokens.__getitem__, missing.tolist()))
            for token in dict.fromkeys(new):
                self._add_token(token)
            ids[missing] = np.fromiter(map(known.__getitem__, new), dtype=np.int64, count=len(new))
        return ids

    def _pair_columns(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Columns of the word pairs "left right" (token ids); a pair is hashed the first time only."""
        keys = (left << 32) | right
        inverse, distinct = pd.factorize(keys)
        cache, tokens = self._pair_column, self._tokens
        for key in distinct.tolist():
            if key not in cache:
                cache[key] = _bucket(f"{tokens[key >> 32]} {tokens[key & 0xFFFFFFFF]}", self.n_features)
        columns = np.fromiter(map(cache.__getitem__, distinct.tolist()), dtype=np.int64, count=len(distinct))
        return columns[inverse]

    def _token_stream(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(token ids with NUL (id 0) between texts, the row of each text in the order streamed)."""
        plain = np.fromiter(map(_is_plain, texts), dtype=bool, count=len(texts))
        order = np.concatenate([np.flatnonzero(plain), np.flatnonzero(~plain)])
        streams = [self._ids(_plain_tokens([texts[i] for i in np.flatnonzero(plain)])) if plain.any() else None,
                   self._ids(_pattern_tokens([texts[i] for i in np.flatnonzero(~plain)])) if not plain.all() else None]
        ids = [stream for stream in streams if stream is not None]
        if len(ids) == 2:
            ids.insert(1, np.zeros(1, dtype=np.int64))  # the boundary between the two groups
        return np.concatenate(ids), order

    def counts(self, texts: list[str]) -> sp.csr_matrix:
        """The count matrix of `texts` (strings): one row per text, float64, indices sorted."""
        if not texts:
            return sp.csr_matrix((0, self.n_features), dtype=np.float64)
        if max(len(self._tokens), len(self._pair_column)) > MAX_REMEMBERED:
            self._forget()
        ids, order = self._token_stream(texts)
        kinds = np.asarray(self._kinds, dtype=np.int8)[ids]
        row = order[np.cumsum(kinds == _BREAK_KIND)]
        words = kinds == _WORD_KIND
        rows, columns = [row[words]], [np.asarray(self._unigrams, dtype=np.int64)[ids[words]]]
        # A word pair is two word tokens next to each other: a CJK run or a text boundary between
        # them breaks the pair, as text_features' `previous = None` does.
        paired = words[:-1] & words[1:]
        rows.append(row[1:][paired])
        columns.append(self._pair_columns(ids[:-1][paired], ids[1:][paired]))
        cjk = np.flatnonzero(kinds == _CJK_KIND)
        if len(cjk):
            counts = np.asarray(self._cjk_count, dtype=np.int64)[ids[cjk]]
            starts = np.asarray(self._cjk_start, dtype=np.int64)[ids[cjk]]
            flat = np.arange(counts.sum()) + np.repeat(starts - (np.cumsum(counts) - counts), counts)
            rows.append(np.repeat(row[cjk], counts))
            columns.append(np.asarray(self._cjk_columns, dtype=np.int64)[flat])
        return _count_matrix(np.concatenate(rows), np.concatenate(columns), len(texts), self.n_features)


def _count_matrix(rows: np.ndarray, columns: np.ndarray, row_count: int, n_features: int) -> sp.csr_matrix:
    """CSR of how often each (row, column) pair occurs: indices sorted, duplicates summed, int32
    indices, as scipy's COO-to-CSR conversion, sum_duplicates and sort_indices make it. One sort
    of (row, column) packed in an int64 does all three at a third of their time: scipy sorts each
    row's columns one row at a time, which was a fifth of the counting."""
    shift = max(1, (n_features - 1).bit_length())
    if (row_count << shift) >= 2**62:  # a key would not fit: let scipy do it
        matrix = sp.coo_matrix((np.ones(len(rows)), (rows, columns)), shape=(row_count, n_features)).tocsr()
        matrix.sum_duplicates()
        return matrix
    keys = (rows.astype(np.int64) << shift) | columns
    keys.sort()
    first = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1]))) if len(keys) else keys
    counts = np.diff(np.append(first, len(keys))).astype(np.float64)
    distinct = keys[first]
    index_type = np.int32 if len(distinct) < 2**31 else np.int64
    indptr = np.searchsorted(distinct >> shift, np.arange(row_count + 1)).astype(index_type)
    indices = (distinct & ((1 << shift) - 1)).astype(index_type)
    return sp.csr_matrix((counts, indices, indptr), shape=(row_count, n_features))
