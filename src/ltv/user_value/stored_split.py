"""A fit's split lookup in the compact form it is stored in (UserValueFit's pickle).

The lookup has a row per labelled user: 780,000 at a million users. As a plain frame it pickled to
48 MB per version, and DuckDB took 4-7 s to write a blob that size into the registry (plus a
checkpoint), every build, for each of the four versions. Two of its six columns repeat the other
two (a held-out user's holdout prediction and label are their cut-off prediction and label), the
split is one bit, and user ids compress well: stored as the user ids, the holdout bits and the
cut-off pair, compressed, it takes about a fifth of the space, and unpacks to the same frame.
"""

from __future__ import annotations

import pickle
import zlib

import numpy as np
import pandas as pd

# zlib's fastest level: on the 1M-user shop it already shrinks the ids 4.5 times and the floats by
# half, in 0.3 s; higher levels buy little on floats.
COMPRESSION_LEVEL = 1


def pack_split_lookup(split_lookup: pd.DataFrame) -> bytes:
    is_holdout = (split_lookup["split"] == "holdout").to_numpy(dtype=bool)
    parts = {
        "user_id": split_lookup["user_id"],
        "rows": len(split_lookup),
        "is_holdout": np.packbits(is_holdout),
        "cutoff_predicted_spend": split_lookup["cutoff_predicted_spend"].to_numpy(dtype=float),
        "cutoff_actual_spend": split_lookup["cutoff_actual_spend"].to_numpy(dtype=float),
    }
    return zlib.compress(pickle.dumps(parts, protocol=pickle.HIGHEST_PROTOCOL), COMPRESSION_LEVEL)


def unpack_split_lookup(packed: bytes) -> pd.DataFrame:
    """The frame pack_split_lookup was given (the same columns, values and types)."""
    parts = pickle.loads(zlib.decompress(packed))  # noqa: S301 - bytes this project stored itself
    is_holdout = np.unpackbits(parts["is_holdout"], count=parts["rows"]).astype(bool)
    predicted, actual = parts["cutoff_predicted_spend"], parts["cutoff_actual_spend"]
    return pd.DataFrame({
        "user_id": parts["user_id"].reset_index(drop=True),
        "split": np.where(is_holdout, "holdout", "train"),
        "holdout_predicted_spend": np.where(is_holdout, predicted, np.nan),
        "holdout_actual_spend": np.where(is_holdout, actual, np.nan),
        "cutoff_predicted_spend": predicted,
        "cutoff_actual_spend": actual,
    })
