"""The key under which sentiment scores are stored."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pandas as pd


def text_hash(texts: pd.Series | Sequence[str | None]) -> pd.Series:
    """SHA-256 hex digest of each text's UTF-8 bytes; null stays null.

    Hash the *masked* text: the key then never encodes personal data, and a text whose personal data
    changes but whose words do not keeps its score.
    """
    series = texts if isinstance(texts, pd.Series) else pd.Series(list(texts), dtype="str")
    return series.map(
        lambda text: hashlib.sha256(text.encode("utf-8")).hexdigest(), na_action="ignore"
    ).astype("str")
