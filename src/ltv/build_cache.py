"""Reusing work whose inputs did not change, so a rebuild after new data costs what the new data costs.

Everything here is keyed by a fingerprint of exactly what a step reads (the rows and columns it
uses, the settings that shape it and the source of the code that computes it), so whatever is
reused is what a fresh computation would have produced. Two kinds of reuse:

* Fitted models (registry.fitted_models): a fit is the expensive half of a model and depends only
  on its training rows. The model is stored under the fingerprint of those rows; scoring, which
  depends on today's features, runs on every build.
* Whole outputs of a Python model (registry.output_fingerprints): when a model's output is a pure
  function of its fingerprinted inputs (content similarity of the catalogue, the offline evaluation
  of a fixed train/test split), the table the last build wrote is copied instead of recomputed.
  The fingerprint is written as 'pending' while the model runs and confirmed by the model's
  post-hook (macro confirm_output_fingerprint) once dbt wrote the table, so a build that failed to
  write its table can never be mistaken for one that did.

Both tables live in the registry schema, which dbt never drops; a fresh warehouse (or
`ltv publish --fresh`) starts with nothing to reuse. var ltv_reuse_unchanged_work=false, or
`dbt build --full-refresh`, turns reuse off for a build.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import pickle
import zlib
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd

from ltv.registry import current_invocation_id

FITTED_MODELS_TABLE = "registry.fitted_models"
OUTPUT_FINGERPRINTS_TABLE = "registry.output_fingerprints"


# --------------------------------------------------------------------------------------------------
# Fingerprints


def combine(*parts: Any) -> str:
    """One sha256 over the parts' string forms, in order."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(str(part).encode("utf-8"))
        digest.update(b"\x1f")
    return digest.hexdigest()


def code_fingerprint(*modules: ModuleType) -> str:
    """The source of the modules that compute a result: changing the code invalidates what it made.
    A package counts with all the modules in it (ltv.text_privacy and its detectors)."""
    paths = []
    for module in modules:
        path = Path(module.__file__)
        paths += sorted(path.parent.glob("*.py")) if path.name == "__init__.py" else [path]
    return combine(*(path.read_bytes().hex() for path in paths))


def relation_fingerprint(relation, columns: Iterable[str] | None = None) -> str:
    """Row count and order-independent content hash of a DuckDB relation (or of some of its columns).

    Computed inside DuckDB (about a second for 15 million rows), so the rows need not be loaded
    into Python to learn that they did not change. Duplicated rows count.
    """
    names = list(columns) if columns is not None else list(relation.columns)
    quoted = ", ".join('"' + name.replace('"', '""') + '"' for name in names)
    row_count, hash_sum, hash_xor = relation.aggregate(
        f"count(*), coalesce(sum(hash({quoted})), 0), coalesce(bit_xor(hash({quoted}, 'xor')), 0)"
    ).fetchall()[0]
    return combine(names, row_count, hash_sum, hash_xor)


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """Content hash of a pandas frame in its current row order, with its column names and types."""
    row_hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return combine(list(frame.columns), [str(dtype) for dtype in frame.dtypes], hashlib.sha256(row_hashes.tobytes()).hexdigest())


# --------------------------------------------------------------------------------------------------
# Fitted models


# Stored fits are compressed when that pays. Sentiment v2's model pickles to 16.8 MB whatever the shop's
# size (the idf and ridge coefficients over 2^20 hashed terms, nearly all one value or 0): DuckDB took
# ~0.5 s to write each such blob, twice per build (reviews and support), a twentieth of a small shop's
# build. zlib's fastest level makes it 0.16-2.5 MB in 20-55 ms. The user value fits (up to 9 MB at
# a million users) are mostly their packed split lookup, compressed already: compressing them again
# would cost 150 ms each for 10%, so a pickle is compressed only when its first MB shrinks by half.
COMPRESSED_PREFIX = b"ltv-zlib1:"  # a pickle (protocol 2+) starts with b"\x80": never this
COMPRESS_FROM_BYTES = 64 * 1024
COMPRESSION_PROBE_BYTES = 1 << 20


def serialize(value: Any) -> bytes:
    """Pickle for storage, compressed when it pays. Only ever unpickle bytes this project stored itself."""
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    if len(data) < COMPRESS_FROM_BYTES:
        return data
    probe = data[:COMPRESSION_PROBE_BYTES]
    if len(zlib.compress(probe, 1)) * 2 > len(probe):
        return data
    return COMPRESSED_PREFIX + zlib.compress(data, 1)


def deserialize(data: bytes) -> Any:
    """What serialize stored; also the plain pickles stored before fits were compressed."""
    if data.startswith(COMPRESSED_PREFIX):
        data = zlib.decompress(memoryview(data)[len(COMPRESSED_PREFIX):])
    return pickle.loads(data)  # noqa: S301 - our own stored object, see serialize


def load_fitted_model(connection, model_name: str, model_version, fingerprint: str) -> Any | None:
    """The model fitted earlier on training data with this fingerprint, or None."""
    rows = connection.execute(
        f"select model_bytes from {FITTED_MODELS_TABLE} "
        "where model_name = ? and model_version = ? and training_fingerprint = ?",
        [model_name, str(model_version), fingerprint],
    ).fetchall()
    return deserialize(bytes(rows[0][0])) if rows else None


def store_fitted_model(connection, model_name: str, model_version, fingerprint: str, model: Any) -> None:
    connection.execute(
        f"insert or replace into {FITTED_MODELS_TABLE} values (?, ?, ?, ?, ?)",
        [model_name, str(model_version), fingerprint, dt.datetime.now(dt.UTC).replace(tzinfo=None), serialize(model)],
    ).fetchall()


class FittedModelStore:
    """load/store of one model's fits, the interface the fitting functions take (None = no reuse)."""

    def __init__(self, connection, model_name: str, model_version):
        self.connection, self.model_name, self.model_version = connection, model_name, model_version

    def load(self, fingerprint: str) -> Any | None:
        return load_fitted_model(self.connection, self.model_name, self.model_version, fingerprint)

    def store(self, fingerprint: str, model: Any) -> None:
        store_fitted_model(self.connection, self.model_name, self.model_version, fingerprint, model)


# --------------------------------------------------------------------------------------------------
# Whole outputs


def relation_exists(connection, relation_name: str) -> bool:
    try:
        connection.execute(f"select 1 from {relation_name} limit 0").fetchall()
    except Exception:  # noqa: BLE001 - any failure means there is nothing to reuse
        return False
    return True


def reusable_output(connection, relation_name: str | None, fingerprint: str):
    """A relation over the table the last successful build wrote from inputs with this fingerprint,
    or None when there is none (first build, inputs or code changed, table missing)."""
    if relation_name is None:
        return None
    rows = connection.execute(
        f"select fingerprint from {OUTPUT_FINGERPRINTS_TABLE} where relation_name = ? and confirmed",
        [relation_name],
    ).fetchall()
    if not rows or rows[0][0] != fingerprint or not relation_exists(connection, relation_name):
        return None
    return connection.sql(f"select * from {relation_name}")


def remember_output(connection, relation_name: str | None, fingerprint: str) -> None:
    """Note, unconfirmed, the fingerprint of the output being built (the post-hook confirms it)."""
    if relation_name is None:
        return
    connection.execute(
        f"insert or replace into {OUTPUT_FINGERPRINTS_TABLE} values (?, ?, ?, false, ?)",
        [relation_name, fingerprint, current_invocation_id(connection), dt.datetime.now(dt.UTC).replace(tzinfo=None)],
    ).fetchall()
