"""ltv's dbt plugin: dbt imports every installed top-level `dbt_*` module when a command starts
(dbt.plugins.manager) and creates the plugins it lists. This one registers the `session`
submission method for Python models on Spark (ltv.engines.spark_session_submission) and has Spark's
Python workers run dbt's own interpreter (ltv.engines.frames); it does nothing when dbt is not
running on dbt-spark. Delete this package once dbt-spark ships a session method (then set
PYSPARK_PYTHON to a Python with ltv installed)."""

import sys
import warnings

from dbt.plugins.manager import dbtPlugin


class SparkSessionPythonModels(dbtPlugin):
    def initialize(self) -> None:
        # dbt loaded the profile's adapter before the plugins: dbt-spark is imported only on a spark
        # target, and a DuckDB build pays nothing for this plugin.
        spark_adapter = sys.modules.get("dbt.adapters.spark.impl")
        if spark_adapter is not None:
            from ltv.engines.frames import use_this_python_for_spark_workers
            from ltv.engines.spark_session_submission import register

            register(spark_adapter.SparkAdapter)
            use_this_python_for_spark_workers()
            # On Spark Connect the server's catalog is fixed: dbt-spark's cursor asks for Hive support
            # before every statement and pyspark warns each time that it cannot (506 lines a demo build).
            warnings.filterwarnings("ignore", message=r"Failed to set spark\.sql\.catalogImplementation",
                                    category=UserWarning)


plugins = [SparkSessionPythonModels]
