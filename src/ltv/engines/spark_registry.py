"""The build cache (ltv.build_cache) on Spark: the fingerprint of a model's training rows and the store
of fitted models, so that a Spark build reuses a fit whose training rows did not change, as DuckDB's does.

The fingerprint is DuckDB's own (build_cache.relation_fingerprint): the row count, the sum and the
bit-xor of DuckDB's hash() of each row. Each row's hashes are computed by DuckDB in the executors'
Python workers, batch by batch (as spark_text.source_hashes does), and Spark adds them up; nothing
but three numbers reaches the driver. So a fit's fingerprint, which the sentiment models also write
into every score row (model_fingerprint), is the same on both engines.
"""

from __future__ import annotations

import datetime as dt
from functools import partial

# pandas at module top: Spark checks a pandas function's signature against the names in its module.
import pandas as pd  # noqa: F401
import pyarrow as pa

from ltv import build_cache

_ROW_HASHES_SCHEMA = "row_hash decimal(20,0), xor_high bigint, xor_low bigint"
_LOW_BITS = 0xFFFFFFFF


def _row_hashes(batches, columns: dict[str, str]):
    """For each row: DuckDB's hash() of its columns (UBIGINT, as a decimal Spark can sum exactly)
    and the two 32-bit halves of hash(columns, 'xor') (Spark's bigint cannot hold a UBIGINT)."""
    import duckdb

    # build_cache.relation_fingerprint's expressions, the columns cast to the DuckDB types they have there.
    values = ", ".join(f'cast("{name}" as {duckdb_type})' for name, duckdb_type in columns.items())
    with duckdb.connect() as connection:
        for batch in batches:
            connection.register("fingerprinted_rows", pa.Table.from_batches([batch]))
            hashed = connection.sql(
                f"select cast(hash({values}) as decimal(20,0)) as row_hash, "
                f"cast(hash({values}, 'xor') >> 32 as bigint) as xor_high, "
                f"cast(hash({values}, 'xor') & {_LOW_BITS} as bigint) as xor_low from fingerprinted_rows").to_arrow_table()
            connection.unregister("fingerprinted_rows")
            yield from hashed.to_batches()


def relation_fingerprint(frames, frame, columns: dict[str, str]) -> tuple[str, int]:
    """(build_cache.relation_fingerprint of the Spark DataFrame `frame` over `columns` ({name: the
    DuckDB type the column has in the DuckDB build}), the same string a DuckDB build computes; the
    number of rows, which it counts anyway)."""
    from pyspark.sql import functions as F

    hashes = frames.map_batches(frame.select(*columns), partial(_row_hashes, columns=columns), _ROW_HASHES_SCHEMA,
                                arrow=True)
    rows, hash_sum, xor_high, xor_low = hashes.agg(
        F.count("*"), F.sum("row_hash"), F.bit_xor("xor_high"), F.bit_xor("xor_low")).first()
    hash_xor = (int(xor_high or 0) << 32) | int(xor_low or 0)
    return build_cache.combine(list(columns), rows, int(hash_sum or 0), hash_xor), rows


class SparkFittedModelStore:
    """build_cache.FittedModelStore on Spark: registry.fitted_models, the table the on-run-start hook
    made (macros/spark/spark_hooks.sql). A fit is stored only when no fit of its fingerprint is there,
    so Parquet's lack of INSERT OR REPLACE does not matter."""

    def __init__(self, spark, model_name: str, model_version) -> None:
        self.spark, self.model_name, self.model_version = spark, model_name, str(model_version)

    def load(self, fingerprint: str):
        rows = self.spark.sql(
            f"select model_bytes from {build_cache.FITTED_MODELS_TABLE} where model_name = :name "
            "and model_version = :version and training_fingerprint = :fingerprint limit 1",
            args={"name": self.model_name, "version": self.model_version, "fingerprint": fingerprint}).collect()
        return build_cache.deserialize(bytes(rows[0][0])) if rows else None

    def store(self, fingerprint: str, model) -> None:
        # The time as text read in the session's zone (UTC), as SparkFrames.record_run does.
        trained_at = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")
        row = self.spark.createDataFrame(
            [(self.model_name, self.model_version, fingerprint, trained_at, bytearray(build_cache.serialize(model)))],
            "model_name string, model_version string, training_fingerprint string, trained_at string, "
            "model_bytes binary")
        row.withColumn("trained_at", row["trained_at"].cast("timestamp")).write.insertInto(
            build_cache.FITTED_MODELS_TABLE)

