"""v1: TextBlob 0.20.1's default PatternAnalyzer, re-implemented exactly, and scored in batches.

`TextBlob(text).sentiment` costs ~450 µs for a 300-character review (`textblob.en.sentiment`,
which it calls, ~300 µs), i.e. 5-7 minutes per million texts on one core. `score_textblob` gives the
same numbers faster by (1) a re-implementation of the analyzer's tokenizer and scoring loop
(`_pattern_sentiment`, ~55 µs, float-identical: see the comment above it and the tests; ~35 µs
since its tokenizer remembers how it split each whitespace-separated piece), (2) scoring each
distinct text once, and (3) above `PARALLEL_THRESHOLD` distinct texts, forked worker processes on
all cores. Measured: 1,000,000 distinct reviews in 53 s on 2 cores (60 CPU-seconds); at the large
shop (1.2 million texts, language detection included) ml_text_sentiment v1 went from 109 to 83
CPU-seconds with the piece memory and ASCII language detection (machine load ~10).
The re-implementation is only used with the TextBlob version it was checked against (0.20.1, pinned
in pyproject.toml); with any other version the texts go through TextBlob itself.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Sequence
from importlib.metadata import version as installed_version
from typing import Any

import numpy as np
import pandas as pd
from textblob import _text as pattern_text
from textblob.en import sentiment as pattern_sentiment

from ltv.sentiment import workers as workers_module
from ltv.sentiment.language import ENGLISH, UNDETERMINED, V1_LANGUAGES, detect_language

# Distinct texts below which forking workers costs more than it saves (a fork plus result transfer
# is ~50 ms; 20,000 texts are ~1.5 s of scoring).
PARALLEL_THRESHOLD = 20_000
_PROGRESS_EVERY = 2_000
_TEXTS_PER_SLICE = 10_000


# --- v1: TextBlob PatternAnalyzer, re-implemented exactly ---------------------------------------------
#
# The functions below follow textblob/_text.py (find_tokens, Sentiment.__call__, Sentiment.assessments)
# step by step, for the one way PatternAnalyzer calls them (a plain string, no part-of-speech tags,
# negation on). They differ only in how the work is done:
#   * the contraction replacements are literal strings, so str.replace does what re.sub did;
#   * tokens without leading/trailing punctuation (most of them) skip the punctuation-splitting loop;
#   * sentence splitting drops a quote-balance test that can never fire (it counts quotes in a list that
#     is always empty at that moment), and is skipped altogether when its rewrites (sarcasm "(!)",
#     emoticons) cannot apply; otherwise the emoticon regex only runs on sentences that could match;
#   * the lexicon lookups go to one flat dict built once, instead of the lazily loaded nested dict;
#   * scores are plain lists instead of dicts, and the word lists that only feed `assessments` are gone.
# The arithmetic (the same operations on the same floats in the same order) is untouched, which is why
# the results are float-identical, not merely close. tests/python/test_sentiment.py proves it on a
# large generated set of texts built to hit every branch.

_PUNCTUATION = tuple(pattern_text.PUNCTUATION.replace(".", ""))
_LEADING = frozenset(_PUNCTUATION)
_TRAILING_TUPLE = _PUNCTUATION + (".",)
_TRAILING = frozenset(_TRAILING_TUPLE)
_REPLACEMENTS = pattern_text.replacements
_ABBREVIATIONS = pattern_text.ABBREVIATIONS
_RE_ABBR1, _RE_ABBR2, _RE_ABBR3 = pattern_text.RE_ABBR1, pattern_text.RE_ABBR2, pattern_text.RE_ABBR3
_EOS = pattern_text.EOS
_SENTENCE_ENDS = frozenset(("...", ".", "!", "?", _EOS))
# Tokens that stay with the sentence they close. The original list also has "'" and '"', but for them
# its loop always breaks (see _sentences), so they are left out here.
_SENTENCE_CLOSERS = frozenset(("”", "’", "...", ".", "!", "?", ")", _EOS))
_LINEBREAKS = re.compile(r"\n{2,}")
_RE_SARCASM = pattern_text.RE_SARCASM
_RE_EMOTICONS = pattern_text.RE_EMOTICONS
# Every emoticon contains at least one of these characters (checked at import below), so a sentence
# without any of them cannot match RE_EMOTICONS.
_EMOTICON_MARKERS = "<♥>:=8;*°DO"
_NEGATIONS = frozenset(pattern_sentiment.negations)
_NOT_EMOTICON = pattern_text.PUNCTUATION  # assessments() tests `w not in PUNCTUATION` (a substring test)

# The re-implementation was proven equal for this TextBlob release; others go through TextBlob itself.
REIMPLEMENTED_TEXTBLOB_VERSION = "0.20.1"
_use_reimplementation = (
    installed_version("textblob") == REIMPLEMENTED_TEXTBLOB_VERSION
    and tuple(pattern_sentiment.modifiers) == ("RB",)
    and all(
        any(marker in emoticon for marker in _EMOTICON_MARKERS)
        for emoticons in pattern_text.EMOTICONS.values()
        for emoticon in emoticons
    )
)

_lexicon: dict[str, tuple[float, float, float, bool]] | None = None
# Unknown words that still count: "!" (a marker), "(!)" and emoticons (their [p, s, i, negated] entry).
_EXCLAMATION = object()
_UNKNOWN_WORD_SCORES: dict[str, Any] = {}


def _load_lexicon() -> None:
    """Flatten TextBlob's sentiment lexicon to {word: (polarity, subjectivity, intensity, is_modifier)}.

    Untagged tokens are looked up under the None part-of-speech key, which TextBlob fills with the
    average over all tags; a word is a modifier ("very", "really") when it has an adverb (RB) entry.
    """
    global _lexicon
    if _lexicon is not None:
        return
    len(pattern_sentiment)  # the lexicon is a lazy dict: this loads it, with TextBlob's own load()
    lexicon = {}
    for word, by_tag in dict.items(pattern_sentiment):
        if None in by_tag:
            polarity, subjectivity, intensity = by_tag[None]
            lexicon[word] = (polarity, subjectivity, intensity, "RB" in by_tag)
    special: dict[str, Any] = {}
    for (_, polarity), faces in pattern_text.EMOTICONS.items():  # first group wins, as in assessments()
        for face in faces:
            face = face.lower()
            # assessments() only looks a word up among the emoticons under this condition
            if face.isalpha() is False and len(face) <= 5 and face not in _NOT_EMOTICON:
                special.setdefault(face, (polarity, 1.0, 1.0, 1))
    special["(!)"] = (0.0, 1.0, 1.0, 1)
    special["!"] = _EXCLAMATION
    _UNKNOWN_WORD_SCORES.update(special)
    _lexicon = lexicon


def _is_abbreviation(token: str) -> bool:
    """find_tokens' test whether a token ending in "." keeps its period ("e.g.", "U.S.", "Mr.")."""
    # The three regexes need a 2-character token (RE_ABBR1), "X.Y." letter-period pairs, so a period
    # three from the end (RE_ABBR2), or an ASCII capital first (RE_ABBR3); skip them when none holds.
    if len(token) > 2 and token[-3] != "." and not ("A" <= token[0] <= "Z"):
        return token in _ABBREVIATIONS
    return (
        token in _ABBREVIATIONS
        or _RE_ABBR1.match(token) is not None
        or _RE_ABBR2.match(token) is not None
        or _RE_ABBR3.match(token) is not None
    )


def _tokens(string: str) -> list[str]:
    """textblob._text.find_tokens up to (not including) the sentence split."""
    for contraction, spaced in _REPLACEMENTS.items():
        if contraction in string:
            string = string.replace(contraction, spaced)
    string = (
        string.replace("“", " “ ")
        .replace("”", " ” ")
        .replace("‘", " ‘ ")
        .replace("’", " ’ ")
        .replace("'", " ' ")
        .replace('"', ' " ')
    )
    if "\r\n" in string:
        string = string.replace("\r\n", "\n")
    if "\n\n" in string:
        string = _LINEBREAKS.sub(f" {_EOS} ", string)
    # The original collapses whitespace runs (re \s+, the same Unicode definition as str.isspace) to
    # one space and collects TOKEN.findall(r"(\S+)\s") over string + " ": that is str.split().
    # Each whitespace-separated piece splits the same way wherever it stands, so a piece seen before
    # is looked up instead of split again (most pieces of a shop's texts recur).
    tokens: list[str] = []
    extend = tokens.extend
    known = _PIECES
    for piece in string.split():
        parts = known.get(piece)
        if parts is None:
            parts = _split_piece(piece)
            if len(known) < _MAX_KNOWN_PIECES:
                known[piece] = parts
        extend(parts)
    return tokens


# Pieces (whitespace-separated) and the tokens each splits into; bounded, since every text of a
# million may bring a piece of its own (an order number).
_PIECES: dict[str, tuple[str, ...]] = {}
_MAX_KNOWN_PIECES = 200_000


def _split_piece(token: str) -> tuple[str, ...]:
    """The tokens find_tokens makes of one whitespace-separated piece: punctuation split off its
    ends, abbreviations ("e.g.", "U.S.") kept whole."""
    first, last = token[0], token[-1]
    if first not in _LEADING:
        if last not in _TRAILING:  # a plain word: most tokens
            return (token,)
        if len(token) > 1 and token[-2] not in _TRAILING:  # a word with one mark after it: "good,"
            if last != ".":
                return (token[:-1], last)
            if _is_abbreviation(token):
                return (token,)
            return (token[:-1], ".")
    tokens: list[str] = []
    append = tokens.append
    tail: list[str] = []
    while token.startswith(_PUNCTUATION) and token not in _REPLACEMENTS:
        append(token[0])
        token = token[1:]
    while token.endswith(_TRAILING_TUPLE) and token not in _REPLACEMENTS:
        if token.endswith(_PUNCTUATION):
            tail.append(token[-1])
            token = token[:-1]
        if token.endswith("..."):
            tail.append("...")
            token = token[:-3].rstrip(".")
        if token.endswith("."):
            if _is_abbreviation(token):
                break
            tail.append(token[-1])
            token = token[:-1]
    if token != "":
        append(token)
    tokens.extend(reversed(tail))
    return tuple(tokens)


def _emoticon_fix(match: Any) -> str:
    return match.group(1).replace(" ", "") + match.group(2)


def _sentences(tokens: list[str]) -> list[str]:
    """The sentence split at the end of find_tokens, with its sarcasm and emoticon rewrites.

    In the original, a quote token stops the run of closing tokens when the *current sentence* holds an
    even number of that quote. The current sentence list is always empty at that point (tokens are added
    to it only after the run), so a quote always stops the run; that is what this loop does.
    """
    if _SENTENCE_ENDS.isdisjoint(tokens):
        groups = [tokens]
    else:
        groups = []
        count = len(tokens)
        start = index = 0
        while index < count:
            if tokens[index] in _SENTENCE_ENDS:
                while index < count and tokens[index] in _SENTENCE_CLOSERS:
                    index += 1
                group = tokens[start:index]
                groups.append([token for token in group if token != _EOS] if _EOS in group else group)
                start = index
            index += 1
        groups.append(tokens[start:index])
    sentences = []
    for group in groups:
        if group:
            sentence = " ".join(group)
            if "(" in sentence:
                sentence = _RE_SARCASM.sub("(!)", sentence)
            for marker in _EMOTICON_MARKERS:
                if marker in sentence:
                    sentence = _RE_EMOTICONS.sub(_emoticon_fix, sentence)
                    break
            sentences.append(sentence)
    return sentences


def _pattern_sentiment(text: str) -> tuple[float, float]:
    """(polarity, subjectivity) exactly as `textblob.en.sentiment(text)` / `TextBlob(text).sentiment`."""
    if _lexicon is None:
        _load_lexicon()
    lexicon = _lexicon
    # Sentiment.__call__ lower-cases each whitespace-separated word; lower-casing the joined string
    # first is the same (no character's lower case is or contains whitespace: checked over all of
    # Unicode when this was written, and covered by the tests).
    tokens = _tokens(str(text))
    joined = " ".join(tokens)
    if "(" not in joined and _EOS not in tokens and _RE_EMOTICONS.search(joined) is None:
        # Nothing for the sarcasm or emoticon rewrites to change, so the sentence split would only
        # re-join the same tokens. (Without paragraph markers, an emoticon inside a sentence is also one
        # in the joined text. With them it is not: "so good :\n\n)" splits into "so good : )", where
        # the emoticon regex finds ":)", while the joined text reads ": END-OF-SENTENCE )".)
        words = joined.lower().split()
    else:
        words = " ".join(_sentences(tokens)).lower().split()

    # Sentiment.assessments(): each entry is [polarity, subjectivity, intensity, negated].
    scores: list[list[Any]] = []
    modifier = None  # preceding modifier word ("very" good)
    negation = None  # preceding negation word (not good)
    for word in words:
        entry = lexicon.get(word)
        if entry is not None:
            polarity, subjectivity, intensity, is_modifier = entry
            if modifier is None:
                scores.append([polarity, subjectivity, intensity, 1])
            else:
                last = scores[-1]
                last[0] = max(-1.0, min(polarity * last[2], +1.0))
                last[1] = max(-1.0, min(subjectivity * last[2], +1.0))
                last[2] = intensity
            if negation is not None:
                last = scores[-1]
                last[2] = 1.0 / last[2]
                last[3] = -1
            modifier = word if is_modifier else None
            negation = word if word in _NEGATIONS else None
        else:
            if word in _NEGATIONS:
                negation = word
            elif negation is not None and len(word.strip("'")) > 1:
                negation = None
            if modifier is not None:
                # Untagged input: TextBlob's test `pos in self.modifiers` is False, so only an -ly
                # modifier carries a negation that follows it ("really not good").
                if negation is not None and modifier.endswith("ly"):
                    scores[-1][3] = -1
                    negation = None
                elif len(word) > 2:
                    modifier = None
            special = _UNKNOWN_WORD_SCORES.get(word)
            if special is not None:
                if special is _EXCLAMATION:  # "!" boosts the previous score
                    if scores:
                        scores[-1][0] = max(-1.0, min(scores[-1][0] * 1.25, +1.0))
                else:  # "(!)" (irony) or an emoticon: a score of its own
                    scores.append(list(special))

    # Sentiment.__call__'s avg(): a running sum in order, divided by the count (or 1).
    polarity_sum = 0
    subjectivity_sum = 0
    for polarity, subjectivity, _, negated in scores:
        polarity_sum += polarity * -0.5 if negated < 0 else polarity
        subjectivity_sum += subjectivity
    count = float(len(scores) or 1)
    return polarity_sum / count, subjectivity_sum / count


def _textblob_sentiment(text: str) -> tuple[float, float]:
    """TextBlob's own scoring (what TextBlob(text).sentiment calls), for unverified TextBlob versions."""
    polarity, subjectivity = pattern_sentiment(text)
    return polarity, subjectivity


# --- v1: batch scoring, deduplicated and on all cores -----------------------------------------------

# Language codes as they travel back from workers (as floats, beside the scores); NaN = not detected.
LANGUAGE_CODES = (ENGLISH, UNDETERMINED, "zh", "ja", "ko", "other")
_CODE_OF = {language: float(code) for code, language in enumerate(LANGUAGE_CODES)}
_NOT_DETECTED = float("nan")


def _score_range(start: int, end: int, texts: list[str], progress=None,
                 english_only: bool = False) -> tuple[array, array, array]:
    """(polarities, subjectivities, language codes) of texts[start:end]. With english_only, each
    text's language is detected first and only V1_LANGUAGES texts are scored (the others get NaN):
    detection costs about as much as scoring, so it runs here, in the workers, too."""
    polarities, subjectivities, languages = array("d"), array("d"), array("d")
    score = _pattern_sentiment if _use_reimplementation else _textblob_sentiment
    for position in range(start, end):
        text = texts[position]
        if english_only:
            language = detect_language(text)
            languages.append(_CODE_OF[language])
            if language not in V1_LANGUAGES:
                polarities.append(_NOT_DETECTED)
                subjectivities.append(_NOT_DETECTED)
                continue
        else:
            languages.append(_NOT_DETECTED)
        polarity, subjectivity = score(text)
        polarities.append(polarity)
        subjectivities.append(subjectivity)
        if progress is not None and (position - start) % _PROGRESS_EVERY == _PROGRESS_EVERY - 1:
            progress()
    return polarities, subjectivities, languages


def _range_as_bytes(texts: Sequence[str], english_only: bool):
    """A workers.Task: the three result arrays of texts[start:end], as bytes. The texts are taken
    _TEXTS_PER_SLICE at a time, by slicing: `texts` may be an ArrowTexts (ltv.sentiment.arrow_texts),
    which a worker decodes slice by slice from the parent's Arrow buffers, so a million texts never
    exist as Python strings in the parent, nor get copied page by page into each forked worker."""
    def task(start: int, end: int, heartbeat) -> bytes:
        results = (array("d"), array("d"), array("d"))
        for first in range(start, end, _TEXTS_PER_SLICE):
            part = texts[first : min(end, first + _TEXTS_PER_SLICE)]
            for values, more in zip(results, _score_range(0, len(part), part, heartbeat, english_only), strict=True):
                values.extend(more)
        return b"".join(values.tobytes() for values in results)
    return task


def _score_sliced(texts: Sequence[str], workers: int, parallel_threshold: int,
                  english_only: bool = False) -> tuple[array, array, array]:
    """_score_range over all `texts`, in forked workers when there are enough (ltv.sentiment.workers:
    'fork' so that the children share the texts and the loaded lexicon with the parent instead of
    receiving pickled copies; only the result arrays travel back)."""
    parts = workers_module.run_sliced(_range_as_bytes(texts, english_only), len(texts), workers,
                                      parallel_threshold, "TextBlob scoring")
    polarities, subjectivities, languages = array("d"), array("d"), array("d")
    for part in parts:
        values = array("d")
        values.frombytes(part)
        size = len(values) // 3
        polarities.extend(values[:size])
        subjectivities.extend(values[size : 2 * size])
        languages.extend(values[2 * size :])
    return polarities, subjectivities, languages


def score_textblob(
    texts: Sequence[str | None],
    parallel_threshold: int = PARALLEL_THRESHOLD,
    workers: int | None = None,
    english_only: bool = False,
) -> pd.DataFrame:
    """v1 scores: DataFrame[polarity, subjectivity], one row per input text, in input order.

    With english_only, also a `language` column (ltv.sentiment.language.detect_language), and only
    texts in V1_LANGUAGES are scored; the others get NaN.

    Equal (float ==) to `TextBlob(text).sentiment` for every text; None gives NaN. Each distinct text is
    scored once. With at least `parallel_threshold` distinct texts and more than one core, the work is
    split over forked processes (`workers`, default: the cores this process may use); if that fails
    for any reason the texts are scored in this process instead, with a warning in the log.
    """
    texts = list(texts)
    distinct = [text for text in dict.fromkeys(texts) if isinstance(text, str)]
    polarities, subjectivities, languages = score_distinct_texts(distinct, parallel_threshold, workers, english_only)
    by_text = {text: position for position, text in enumerate(distinct)}
    positions = np.array(
        [by_text.get(text, -1) if isinstance(text, str) else -1 for text in texts], dtype=np.int64
    )
    polarity = np.append(polarities, np.nan)[positions]
    subjectivity = np.append(subjectivities, np.nan)[positions]
    frame = pd.DataFrame({"polarity": polarity, "subjectivity": subjectivity})
    if english_only:
        codes = np.append(languages, np.nan)[positions]
        names = np.append(np.asarray(LANGUAGE_CODES, dtype=object), None)
        frame["language"] = names[np.where(np.isnan(codes), len(LANGUAGE_CODES), codes).astype(np.int64)]
    return frame


def score_distinct_texts(
    texts: Sequence[str], parallel_threshold: int = PARALLEL_THRESHOLD, workers: int | None = None,
    english_only: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(polarities, subjectivities, language codes) of `texts` (strings, which the caller has made
    distinct: a list, or an ArrowTexts that the workers read in place), as float64 arrays in input order: score_textblob's numbers without its bookkeeping,
    for a caller that keys texts by hash and maps the scores back itself. A language code indexes
    LANGUAGE_CODES (NaN without english_only); a text not in V1_LANGUAGES has NaN scores."""
    _load_lexicon()  # before any fork, so that children share it
    parts = _score_sliced(texts, workers or workers_module.available_cores(), parallel_threshold, english_only)
    return tuple(np.frombuffer(part, dtype=np.float64) for part in parts)
