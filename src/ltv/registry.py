"""The model-run registry: every fit or evaluation appends one row to registry.model_run_log.

dbt never drops that table (it is created by the create_model_run_log() on-run-start hook and read
as a source), so the history of model quality survives full refreshes and is visible in the
warehouse itself through the contracted view fct_model_runs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from typing import Any

RUN_LOG_TABLE = "registry.model_run_log"
INVOCATIONS_TABLE = "registry.dbt_invocations"
RUN_LOG_COLUMNS = ("run_id", "model_name", "model_version", "method", "status", "message", "invocation_id", "trained_at",
                   "cutoff_date", "horizon_days", "train_rows", "holdout_rows", "parameters_json", "metrics_json")


def _json_safe(value: Any) -> Any:
    """Plain JSON: NaN/inf become null (JSON has no NaN), numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_json(value: Any) -> str:
    return json.dumps(_json_safe(value), sort_keys=True)


def current_invocation_id(connection) -> str | None:
    """The id of the dbt invocation that is running (written by the on-run-start hook)."""
    rows = connection.execute(
        f"select invocation_id from {INVOCATIONS_TABLE} order by started_at desc limit 1"
    ).fetchall()
    return rows[0][0] if rows else None


def record_run(connection, run: dict, cutoff_date=None, horizon_days: int | None = None) -> str:
    """Append one run (the dict the fitting functions return) to the registry; return its run_id.

    `run` keys: model_name, model_version, method, status, and optionally message, train_rows,
    holdout_rows, parameters (dict), metrics (dict). A run without a method is refused: the
    registry's readers compare runs of a family by method, and a NULL one cannot be told apart.
    """
    _require_method(run)
    row = run_row(run, current_invocation_id(connection), cutoff_date, horizon_days)
    connection.execute(
        f"""
        insert into {RUN_LOG_TABLE} ({", ".join(RUN_LOG_COLUMNS)}) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        row,
    ).fetchall()
    return row[0]


def run_row(run: dict, invocation_id: str | None, cutoff_date=None, horizon_days: int | None = None) -> list:
    """The registry row of one run, in RUN_LOG_COLUMNS order (each engine inserts it its own way)."""
    _require_method(run)
    trained_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    # Versions are recorded as dbt numbers them ("2", not "v2"); baselines keep their name.
    model_version = str(run["model_version"]).removeprefix("v")
    method = run.get("method")
    run_id = hashlib.sha256(
        f"{invocation_id}|{run['model_name']}|{model_version}|{method}|{trained_at.isoformat()}".encode()
    ).hexdigest()[:32]
    return [
        run_id,
        run["model_name"],
        model_version,
        method,
        run.get("status", "fitted"),
        run.get("message"),
        invocation_id,
        trained_at,
        cutoff_date,
        None if horizon_days is None else int(horizon_days),
        _optional_int(run.get("train_rows")),
        _optional_int(run.get("holdout_rows")),
        to_json(run.get("parameters", {})),
        to_json(run.get("metrics", {})),
    ]


def _require_method(run: dict) -> None:
    if not run.get("method"):
        raise ValueError(f"run of {run.get('model_name')} version {run.get('model_version')} has no method")


def _optional_int(value) -> int | None:
    return None if value is None else int(value)
