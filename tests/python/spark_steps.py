"""Runs dbt invocations (and copies between them) one after another in this one process:
`python spark_steps.py <steps.json>`. conftest's spark_demo runs the Spark builds of a test run so: the
first invocation starts Spark's JVM and the later ones reuse its session (dbt-spark's session method
never stops it), which saves a JVM start and dbt's imports per invocation (about 20 s each in CI).

steps.json is a list of {"dbt": [arguments], "env": {overrides of this process's environment},
"output": file for dbt's console output}, {"copy": [[from, to], ...]} (folders or files) and
{"spark_sql": [statements]} (run on the session the dbt runs before it started). The first failing
invocation ends the process with a message naming it."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path


def _copy(pairs: list[list[str]]) -> None:
    for source, destination in pairs:
        if Path(source).is_dir():
            shutil.copytree(source, destination)
        else:
            Path(destination).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, destination)


def run_steps(steps: list[dict]) -> None:
    from dbt.cli.main import dbtRunner
    from dbt_common.events.functions import capture_stdout_logs, stop_capture_stdout_logs

    base_environment = dict(os.environ)
    for number, step in enumerate(steps, 1):
        if "copy" in step:
            _copy(step["copy"])
            continue
        if "spark_sql" in step:
            from pyspark.sql import SparkSession

            session = SparkSession.builder.getOrCreate()  # dbt-spark's, with the target's settings
            for statement in step["spark_sql"]:
                session.sql(statement).collect()
            continue
        os.environ.clear()
        os.environ.update({**base_environment, **step.get("env", {})})
        with open(step["output"], "w") as output:
            capture_stdout_logs(output)
            try:
                outcome = dbtRunner().invoke(step["dbt"])
            finally:
                stop_capture_stdout_logs()
        if not outcome.success:
            sys.exit(f"step {number}, `dbt {' '.join(step['dbt'])}`, failed: its output is in {step['output']}")


if __name__ == "__main__":
    run_steps(json.loads(Path(sys.argv[1]).read_text()))
