"""Boosting fits of at least BOOSTING_PARALLEL_MIN_ROWS rows run on BOOSTING_THREADS OpenMP threads: the trees and their predictions must be the
same to the last bit as with one thread, and the dbt process must make waiting threads sleep before
OpenMP is loaded (ltv.dbt_entrypoints)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from ltv.user_value import forest
from ltv.user_value.baseline import fit_baseline, predict_baseline
from ltv.user_value.boosting import _fit_v3, _predict_v3
from ltv.user_value.choice import V3_POINT
from ltv.user_value.constants import (
    BASELINE_FEATURES,
    BOOSTING_PARALLEL_MIN_ROWS,
    BOOSTING_THREADS,
    V3_BASE_FEATURES,
)
from ltv.user_value.tuning import fit_trees

USERS = 12_000  # above 10,000: the baseline's default early stopping holds out users


@pytest.fixture(scope="module")
def users() -> pd.DataFrame:
    generator = np.random.default_rng(11)
    frame = pd.DataFrame({column: generator.gamma(2.0, 10.0, USERS) for column in V3_BASE_FEATURES})
    frame.loc[generator.random(USERS) < 0.1, "average_rating"] = np.nan
    frame["has_purchase"] = (frame["completed_orders"] > 15).astype(float)
    frame["future_net_spend"] = generator.poisson(np.exp(frame["activity"].to_numpy() / 40.0)) * 20.0
    return frame


def _with_threads(monkeypatch, threads: int, fit):
    monkeypatch.setattr(forest, "BOOSTING_THREADS", threads)
    monkeypatch.setattr(forest, "BOOSTING_PARALLEL_MIN_ROWS", 0)  # these fits are below it
    return fit()


def _openmp_threads() -> int:
    from threadpoolctl import threadpool_info

    return min(pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "openmp")


def test_fits_below_the_parallel_size_run_on_one_thread_and_above_on_two():
    import sklearn.ensemble  # noqa: F401  (loads OpenMP, so that threadpoolctl sees it)

    with forest.boosting_threads(BOOSTING_PARALLEL_MIN_ROWS - 1):
        assert _openmp_threads() == 1
    with forest.boosting_threads(BOOSTING_PARALLEL_MIN_ROWS):
        assert _openmp_threads() == BOOSTING_THREADS == 2


def _same_trees(one, two) -> None:
    assert one.n_iter_ == two.n_iter_
    for first, second in zip(one._predictors, two._predictors, strict=True):
        assert first[0].nodes.tobytes() == second[0].nodes.tobytes()


def test_two_threads_fit_v3s_trees_bit_for_bit(users, monkeypatch):
    assert BOOSTING_THREADS == 2
    few = users.head(1000)  # v2 is fitted inside (by integration on these gamma draws, ~2 ms a user): kept small
    one = _with_threads(monkeypatch, 1, lambda: _fit_v3(few, 180, None))
    two = _with_threads(monkeypatch, 2, lambda: _fit_v3(few, 180, None))
    _same_trees(one["model"], two["model"])
    assert np.array_equal(_predict_v3(one, few, 180)["predicted_spend"], _predict_v3(two, few, 180)["predicted_spend"])


def test_two_threads_grow_the_same_early_stopped_trees(users, monkeypatch):
    features = users[list(V3_BASE_FEATURES)].to_numpy(dtype=float)
    label = users["future_net_spend"].to_numpy(dtype=float)
    names = list(V3_BASE_FEATURES)
    point = {**V3_POINT, "loss": "squared_error", "max_leaf_nodes": 31, "learning_rate": 0.1, "monotonic": True}
    models = [_with_threads(monkeypatch, threads, lambda: fit_trees(
        point, features[:9000], label[:9000], names, eval_features=features[9000:], eval_label=label[9000:]))
        for threads in (1, 2)]
    _same_trees(*models)
    baselines = [_with_threads(monkeypatch, threads, lambda: fit_baseline(users)) for threads in (1, 2)]
    _same_trees(baselines[0]["model"], baselines[1]["model"])
    assert np.array_equal(predict_baseline(baselines[0], users), predict_baseline(baselines[1], users))
    assert set(BASELINE_FEATURES) <= set(users.columns)


def test_the_dbt_entry_points_make_waiting_openmp_threads_sleep_before_openmp_loads():
    script = ("import os, sys; import ltv.dbt_entrypoints; "
              "print(os.environ['OMP_WAIT_POLICY'], any(name.startswith('sklearn') for name in sys.modules))")
    environment = {key: value for key, value in os.environ.items() if key != "OMP_WAIT_POLICY"}
    result = subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True, text=True,
                            check=True)
    assert result.stdout.split() == ["PASSIVE", "False"]
    # A policy set by the caller is kept.
    result = subprocess.run([sys.executable, "-c", script], env={**environment, "OMP_WAIT_POLICY": "ACTIVE"},
                            capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["ACTIVE", "False"]
