"""Row-by-row comparison of a table Spark wrote with the DuckDB build's, shared by the test_spark_* files:
rows matched on their key, every cell equal, floats within a tolerance (the engines add in another order)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def same_cell(spark_value, duckdb_value, tolerance: float) -> bool:
    """Equal; floats within tolerance × max(1, |DuckDB's value|); missing on both sides; times without zone."""
    if isinstance(spark_value, list | np.ndarray) or isinstance(duckdb_value, list | np.ndarray):
        return list(spark_value) == list(duckdb_value)
    if isinstance(spark_value, pd.Timestamp) or isinstance(duckdb_value, pd.Timestamp):
        return pd.Timestamp(spark_value).tz_localize(None) == pd.Timestamp(duckdb_value).tz_localize(None)
    if spark_value is None or duckdb_value is None or pd.isna(spark_value) or pd.isna(duckdb_value):
        return bool(pd.isna(spark_value) and pd.isna(duckdb_value))
    if isinstance(spark_value, float | np.floating) or isinstance(duckdb_value, float | np.floating):
        return abs(float(spark_value) - float(duckdb_value)) <= tolerance * max(1.0, abs(float(duckdb_value)))
    return spark_value == duckdb_value


def assert_same_keyed_rows(spark_frame: pd.DataFrame, duckdb_frame: pd.DataFrame, keys: list[str], name: str,
                           tolerance: float, min_rows: int) -> None:
    """The same key set (keys unique on both sides, more than min_rows rows), the same columns, and every
    cell of each row the same (same_cell)."""
    def keyed(frame: pd.DataFrame) -> dict:
        rows = {tuple(row[key] for key in keys): row for row in frame.to_dict("records")}
        assert len(rows) == len(frame), (name, "keys repeat")
        return rows

    expected, spark_rows = keyed(duckdb_frame), keyed(spark_frame)
    assert len(expected) > min_rows, name
    assert sorted(spark_frame.columns) == sorted(duckdb_frame.columns), name
    assert spark_rows.keys() == expected.keys(), name
    for key, row in expected.items():
        differing = [column for column in row if not same_cell(spark_rows[key][column], row[column], tolerance)]
        assert not differing, (name, key, differing, spark_rows[key], row)


def assert_same_json(spark_value, duckdb_value, tolerance: float) -> None:
    """Two parsed JSON documents (a run's parameters or metrics): the same keys and items, numbers within
    tolerance."""
    if isinstance(duckdb_value, dict):
        assert isinstance(spark_value, dict) and spark_value.keys() == duckdb_value.keys()
        for key, value in duckdb_value.items():
            assert_same_json(spark_value[key], value, tolerance)
    elif isinstance(duckdb_value, list):
        assert isinstance(spark_value, list) and len(spark_value) == len(duckdb_value)
        for spark_item, duckdb_item in zip(spark_value, duckdb_value, strict=True):
            assert_same_json(spark_item, duckdb_item, tolerance)
    else:
        assert same_cell(spark_value, duckdb_value, tolerance), (spark_value, duckdb_value)
