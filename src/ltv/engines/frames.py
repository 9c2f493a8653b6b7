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

    def record_run(self, run: dict, cutoff_date=None, horizon_days: int | None = None) -> str:
        """ltv.registry.record_run on Spark: the same row, into the registry table the on-run-start
        hook made (macros/spark/spark_hooks.sql). Values travel as query parameters, the timestamp as
        text read in the session's zone (UTC), so no Python-side time zone applies."""
        from ltv import registry

        invocations = self.session.sql(
            f"select invocation_id from {registry.INVOCATIONS_TABLE} order by started_at desc limit 1").collect()
        row = registry.run_row(run, invocations[0][0] if invocations else None, cutoff_date, horizon_days)
        types = dict(zip(registry.RUN_LOG_COLUMNS, ["string"] * 7 + ["timestamp", "date", "int", "bigint", "bigint",
                                                                    "string", "string"], strict=True))
        values = {name: None if value is None else str(value) for name, value in zip(registry.RUN_LOG_COLUMNS, row,
                                                                                     strict=True)}
        self.session.sql(f"insert into {registry.RUN_LOG_TABLE} select "
                         + ", ".join(f"cast(:{name} as {types[name]})" for name in registry.RUN_LOG_COLUMNS),
                         args=values)
        return row[0]

    def map_batches(self, frame, function, schema: str, arrow: bool = False):
        """`function` over the rows of `frame`, batch by batch, in the executors' Python workers:
        an iterator of pandas frames (or, with arrow, of pyarrow record batches) in, the same out,
        with the columns of `schema` (Spark DDL)."""
        return frame.mapInArrow(function, schema) if arrow else frame.mapInPandas(function, schema)


def frames_for(session) -> DuckDBFrames | SparkFrames:
    """The engine a dbt Python model's `session` belongs to."""
    # By name: a Spark Connect session (pyspark.sql.connect) is no subclass of the classic one.
    session_type = type(session)
    if session_type.__name__ == "SparkSession" and session_type.__module__.startswith("pyspark."):
        return SparkFrames(session)
    return DuckDBFrames(session)


def use_this_python_for_spark_workers() -> None:
    """Spark starts its Python workers with $PYSPARK_PYTHON, else whatever `python3` is on the PATH,
    which need not have ltv (or pandas) installed: in local mode they are this interpreter. Called before
    the session starts; a value set by the user (a cluster's executors' Python) is kept."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
