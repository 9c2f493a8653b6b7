"""How an entry point reads its inputs and settings and hands back its table, on the engine the dbt
Python model runs on: DuckDB (the model's `session` is a DuckDB connection, its refs are DuckDB
relations) or Spark (a SparkSession and Spark DataFrames).

The DuckDB side is exactly what the model files did before there was a choice (`.df()` of the settings
table, `.project()` of the columns), so a DuckDB build is unchanged. On Spark nothing that grows with
the shop is collected to the driver: only the one-row settings table is; per-row work runs in the
executors' Python workers, batch by batch (`map_batches`).
"""

from __future__ import annotations

import os
import sys

# pandas at module top: Spark checks a pandas function's signature against the names in its module.
import pandas as pd


class DuckDBFrames:
    """A dbt-duckdb model: relations stay lazy in the one DuckDB process."""

    distributed = False

    def __init__(self, connection) -> None:
        self.session = connection

    def settings_frame(self, settings) -> pd.DataFrame:
        """int_model_settings as the pandas frame the DuckDB entry points take (tests pass a frame)."""
        return settings if isinstance(settings, pd.DataFrame) else settings.df()

    def columns(self, relation, names: str):
        return relation.project(names)


class SparkFrames:
    """A dbt-spark model on the target's SparkSession: DataFrames stay distributed."""

    distributed = True

    def __init__(self, spark) -> None:
        self.session = spark

    def settings_frame(self, settings) -> pd.DataFrame:
        # One row (model_settings refuses any other count): the only table a Spark model collects whole.
        return settings if isinstance(settings, pd.DataFrame) else settings.limit(2).toPandas()

    def settings(self, settings) -> dict:
        # Imported here: ltv.dbt_entrypoints imports this module.
        from ltv.dbt_entrypoints.common import model_settings

        frame = self.settings_frame(settings)
        return model_settings(frame) if len(frame) else {}

    def columns(self, frame, names: str):
        return frame.select(*(name.strip() for name in names.split(",")))

    def map_batches(self, frame, function, schema: str, arrow: bool = False):
        """`function` over the rows of `frame`, batch by batch, in the executors' Python workers:
        an iterator of pandas frames (or, with arrow, of pyarrow record batches) in, the same out,
        with the columns of `schema` (Spark DDL)."""
        return frame.mapInArrow(function, schema) if arrow else frame.mapInPandas(function, schema)


def frames_for(session) -> DuckDBFrames | SparkFrames:
    """The engine a dbt Python model's `session` belongs to."""
    pyspark_sql = sys.modules.get("pyspark.sql")
    if pyspark_sql is not None and isinstance(session, pyspark_sql.SparkSession):
        return SparkFrames(session)
    return DuckDBFrames(session)


def use_this_python_for_spark_workers() -> None:
    """Spark starts its Python workers with $PYSPARK_PYTHON, else whatever `python3` is on the PATH,
    which need not have ltv (or pandas) installed: in local mode they are this interpreter. Called before
    the session starts; a value set by the user (a cluster's executors' Python) is kept."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
