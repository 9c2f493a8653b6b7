"""Python models on the target's own SparkSession: dbt-spark's missing `session` submission method.

dbt-spark 1.11 submits Python models only to Databricks (its `all_purpose_cluster` and `job_cluster`
methods call Databricks' REST API). With the `session` connection method dbt's SQL already runs in
this process against `SparkSession.builder.getOrCreate()`, so a Python model can run there too: the
compiled model code (the model plus dbt-spark's own footer, which writes the returned DataFrame with
`saveAsTable`) is executed here with `spark` bound to that session, as the open upstream changes
dbt-labs/dbt-spark#1063 and dbt-labs/dbt-adapters#1147 propose.

It is registered by the dbt plugin in src/dbt_ltv (dbt imports every installed `dbt_*` module at
start-up). When dbt-spark ships a session method of its own, delete src/dbt_ltv and this module, and
set `+submission_method: session` for the Python models in dbt_project.yml if upstream's default on a
session connection is not already that.
"""

from __future__ import annotations

from typing import Any

from dbt.adapters.base import PythonJobHelper

SESSION_METHOD = "session"


class SessionPythonJobHelper(PythonJobHelper):
    """Runs a compiled Python model in this process, on the session dbt's SQL cursor uses."""

    def __init__(self, parsed_model: dict, credentials: Any) -> None:
        self.parsed_model = parsed_model
        self.credentials = credentials

    def spark_session(self):
        from pyspark.sql import SparkSession

        # Built exactly as dbt-spark's session cursor builds it (dbt/adapters/spark/session.py), so a
        # Python model that happens to run before any SQL still gets the profile's settings.
        builder = SparkSession.builder.enableHiveSupport()
        for parameter, value in self.credentials.server_side_parameters.items():
            builder = builder.config(parameter, value)
        return builder.getOrCreate()

    def submit(self, compiled_code: str) -> None:
        # The file name makes a traceback name the model rather than "<string>".
        code = compile(compiled_code, f"<python model {self.parsed_model['unique_id']}>", "exec")
        exec(code, {"__name__": f"dbt_python_model_{self.parsed_model['alias']}", "spark": self.spark_session()})


def register(adapter_class: type) -> None:
    """Adds `session` to a SparkAdapter class's submission methods, and makes it the default on a
    session connection (where the Databricks default cannot work). Idempotent."""
    if getattr(adapter_class, "_ltv_session_submission", False):
        return
    upstream_helpers = adapter_class.python_submission_helpers
    upstream_default = adapter_class.default_python_submission_method

    def python_submission_helpers(self) -> dict[str, type[PythonJobHelper]]:
        # Upstream's own session method, once it has one, wins.
        return {SESSION_METHOD: SessionPythonJobHelper, **upstream_helpers.fget(self)}

    def default_python_submission_method(self) -> str:
        if str(getattr(self.config.credentials, "method", "")) == SESSION_METHOD:
            return SESSION_METHOD
        return upstream_default.fget(self)

    adapter_class.python_submission_helpers = property(python_submission_helpers)
    adapter_class.default_python_submission_method = property(default_python_submission_method)
    adapter_class._ltv_session_submission = True
