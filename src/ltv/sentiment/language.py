"""Is a text English? A cheap, offline heuristic, enough to tell where TextBlob (v1) applies.

TextBlob's lexicon is English: on Chinese or Portuguese it finds no words and returns 0, which reads
as "neutral" when it means "not measured". So v1 scores only texts detected as English (or texts
without any words, such as ":)", whose emoticons TextBlob reads in any language), and records why
the others are not scored. v2 learns from the shop's own ratings and needs no language.

The rule, per text (no model, no download; ~75 µs per 300-character review on one core):
1. Letters are counted by script. When most letters are Han, kana or hangul the text is
   'zh' / 'ja' / 'ko' (kana wins over Han: Japanese mixes both; hangul is Korean). When most letters
   are in another non-Latin script (Cyrillic, Arabic, ...) it is 'other'.
2. Latin-script words are looked up in two lists: English words (TextBlob's own sentiment lexicon,
   2,860 words, plus scikit-learn's 318 English stop words, less the few that are also common
   Portuguese/Spanish/French/Italian words such as "de", "a", "no") and the most frequent function
   words of Portuguese, Spanish, French, German, Italian and Dutch (below). The text is 'en' when at
   least ENGLISH_WORD_SHARE of its words are English and English words outnumber the others'
   function words two to one; otherwise 'other'. Words with letters outside ASCII (ã, ç, é, ß) count
   as non-English function words: English prose rarely has them.
3. A text with no letters at all is 'und' (undetermined).

Why not a language-identification package: the well-kept offline ones (lingua, fastText's lid
model) are tens to hundreds of MB or need a model file, to answer a yes/no question this rule
answers on every text the tests throw at it (tests/python/test_multilingual_sentiment.py).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

import pandas as pd
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from textblob.en import sentiment as pattern_sentiment
from textblob.en import spelling

ENGLISH = "en"
UNDETERMINED = "und"
# Where v1 (TextBlob) is applicable: English, and texts without words (emoticons, "!!!").
V1_LANGUAGES = frozenset((ENGLISH, UNDETERMINED))
ENGLISH_WORD_SHARE = 0.5
# English stop words that are as common in Romance languages; counting them would make Portuguese
# look English ("a", "de", "no", "do" are among its most frequent words).
_AMBIGUOUS = frozenset(("a", "de", "do", "no", "me", "con", "per", "as", "e", "o", "se", "en", "la", "die"))
_FOREIGN_FUNCTION_WORDS = frozenset(
    # Portuguese
    "o os um uma que não nao para com muito mas foi está esta bem meu minha pelo pela produto você "
    "ao dos das em na nas nos é e"
    # Spanish
    " el los las del que por una muy pero está es y lo su al"
    # French
    " le les des une est et pas pour dans avec très mais qui sur du au ce"
    # German
    " der die das und ist nicht ein eine mit sehr aber für auf zu den dem"
    # Italian
    " il gli della che non molto per una sono è con ma"
    # Dutch
    " het een niet van zeer maar voor ook dat".split()
)
# Runs of letters only: "O00001596" (an order number) and "2x" are not words of any language.
_TOKEN = re.compile(r"\w+")


@lru_cache(maxsize=1)
def _english_words() -> frozenset[str]:
    len(pattern_sentiment), len(spelling)  # both are lazy: this loads them
    words = frozenset(dict.keys(pattern_sentiment)) | frozenset(dict.keys(spelling)) | frozenset(ENGLISH_STOP_WORDS)
    return words - _AMBIGUOUS - _FOREIGN_FUNCTION_WORDS


def _script(character: str) -> str:
    code = ord(character)
    if code < 0x250:  # Basic Latin up to Latin Extended-B
        return "latin"
    if 0x3040 <= code <= 0x30FF or 0x31F0 <= code <= 0x31FF:
        return "kana"
    if 0xAC00 <= code <= 0xD7AF or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F:
        return "hangul"
    if 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0xF900 <= code <= 0xFAFF or code >= 0x20000:
        return "han"
    if 0x1E00 <= code <= 0x1EFF:  # Latin Extended Additional (Vietnamese)
        return "latin"
    return "other"


def _script_language(words: list[str]) -> str | None:
    """'zh' / 'ja' / 'ko' / 'other' when most letters are not Latin, else None."""
    counts = {"latin": 0, "kana": 0, "hangul": 0, "han": 0, "other": 0}
    for word in words:
        for character in word:
            counts[_script(character)] += 1
    letters = sum(counts.values())
    if counts["latin"] * 2 >= letters:
        return None
    if counts["kana"] > 0:
        return "ja"
    if counts["hangul"] >= counts["han"]:
        return "ko" if counts["hangul"] else "other" if counts["other"] > counts["han"] else "zh"
    return "zh" if counts["han"] >= counts["other"] else "other"


# In ASCII, \w is [A-Za-z0-9_]: every other character becomes a space, so that str.split() gives
# the runs _TOKEN finds (lower-cased; NFC changes no ASCII text).
_ASCII_NON_WORD = str.maketrans({chr(code): " " for code in range(128)
                                 if not (chr(code).isalnum() or chr(code) == "_")})


def _words(text: str) -> list[str]:
    """The all-letter runs of word characters in `text`, NFC-normalised and lower-cased."""
    if text.isascii():  # most texts: str.translate and split do in C what the regex does
        return [token for token in text.lower().translate(_ASCII_NON_WORD).split() if token.isalpha()]
    return [token for token in _TOKEN.findall(unicodedata.normalize("NFC", text).lower()) if token.isalpha()]


def detect_language(text: str | None) -> str | None:
    """'en', 'zh', 'ja', 'ko', 'other' (not English, language not identified) or 'und' (no letters);
    None for a missing text. See the module docstring for the rule."""
    if not isinstance(text, str):
        return None
    words = _words(text)
    if not words:
        return UNDETERMINED
    english_words = _english_words()
    english = sum(map(english_words.__contains__, words))
    if text.isascii():
        # All Latin script, so no letters to count (half the cost); and English and foreign function
        # words are disjoint sets (_english_words), so no word is counted twice.
        foreign = sum(map(_FOREIGN_FUNCTION_WORDS.__contains__, words))
    else:
        by_script = _script_language(words)
        if by_script is not None:
            return by_script
        foreign = sum(1 for word in words if word not in english_words
                      and (word in _FOREIGN_FUNCTION_WORDS or not word.isascii()))
    if english >= ENGLISH_WORD_SHARE * len(words) and english >= 2 * foreign:
        return ENGLISH
    return "other"


def detect_languages(texts: Sequence[str | None]) -> pd.Series:
    """detect_language of each text, as a string Series aligned with the input (each distinct text
    is examined once)."""
    texts = list(texts)
    by_text = {text: detect_language(text) for text in dict.fromkeys(texts) if isinstance(text, str)}
    return pd.Series([by_text.get(text) if isinstance(text, str) else None for text in texts], dtype="object")
