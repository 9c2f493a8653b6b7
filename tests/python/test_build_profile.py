"""ltv.build_profile: the stages of a build, its budgets and the share of time it kept one core busy."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest

from ltv.build_profile import (
    LARGE_NODE_BUDGETS,
    LARGE_STAGE_BUDGETS,
    OUTSIDE_NODES,
    CoreSampler,
    budget_verdicts,
    core_profile,
    cpu_profile,
    memory_peak,
    node_cpu_seconds,
    node_name,
    stage_of,
    stage_seconds,
    tree_cpu_seconds,
)


@pytest.mark.parametrize("unique_id, name, stage", [
    ("seed.ltv.users", "seed:users", "load and check"),
    ("model.ltv.base_shop__orders", "base_shop__orders", "load and check"),
    ("model.ltv.stg_shop__reviews", "stg_shop__reviews", "load and check"),
    ("model.ltv.int_texts_masked", "int_texts_masked", "text"),
    ("model.ltv.ml_text_sentiment.v2", "ml_text_sentiment.v2", "text"),
    ("model.ltv.ml_conversation_experience_v1", "ml_conversation_experience_v1", "text"),
    ("model.ltv.int_orders_summarized", "int_orders_summarized", "features"),
    ("model.ltv.ml_user_value.v4", "ml_user_value.v4", "user value"),
    ("model.ltv.ml_item_content_similarities", "ml_item_content_similarities", "recommendations"),
    ("model.ltv.ml_recommendation_evaluation", "ml_recommendation_evaluation", "recommendations"),
    ("model.ltv.fct_user_value_predictions.v1", "fct_user_value_predictions.v1", "marts"),
    ("model.ltv.dim_users", "dim_users", "marts"),
    ("test.ltv.not_null_dim_users_user_id.5f1e2a", "test:not_null_dim_users_user_id.5f1e2a", "data tests"),
    ("unit_test.ltv.fct_user_value_versions.champion_rule", "unit_test:fct_user_value_versions.champion_rule",
     "data tests"),
    ("model.ltv.quarantine_rows", "quarantine_rows", "load and check"),
    ("operation.ltv.ltv-on-run-start-0", "operation:ltv-on-run-start-0", "other"),
    ("exposure.ltv.customer_value_dashboard", "exposure:customer_value_dashboard", "other"),
])
def test_nodes_are_named_and_staged_by_their_name(unique_id, name, stage):
    assert node_name(unique_id) == name
    assert stage_of(name) == stage


def test_stage_seconds_add_up_every_node_once():
    nodes = {"base_shop__users": 1.5, "int_texts_masked": 2.0, "ml_text_sentiment.v2": 3.25,
             "int_orders_summarized": 0.5, "test:unique_x.1": 0.25, "operation:x": 0.75}
    totals = stage_seconds(nodes)
    assert totals["load and check"] == 1.5 and totals["text"] == 5.25 and totals["features"] == 0.5
    assert totals["data tests"] == 0.25 and totals["other"] == 0.75 and totals["user value"] == 0.0
    assert sum(totals.values()) == pytest.approx(sum(nodes.values()))


def test_the_one_core_share_is_the_time_below_one_and_a_half_cores():
    # 1 s at 1.9 cores, 1 s at 0.5, 2 s at 1.0: three of four seconds on about one core.
    samples = [(0.0, 0.0), (1.0, 1.9), (2.0, 2.4), (4.0, 4.4)]
    assert core_profile(samples) == {"one_core_share": 0.75, "sampled_seconds": 4.0}
    assert core_profile(samples[:1])["one_core_share"] is None


BURN = "import time\nend = time.process_time() + {seconds}\nwhile time.process_time() < end: pass\n"


def test_the_sampler_counts_the_cpu_of_children_and_grandchildren():
    # The root waits on a child that burns 0.6 s of CPU, and itself starts a grandchild burning 0.6 s.
    child = ("import subprocess, sys\n"
             f"grandchild = subprocess.Popen([sys.executable, '-c', {BURN.format(seconds=0.6)!r}])\n"
             f"{BURN.format(seconds=0.6)}grandchild.wait()\n")
    root = subprocess.Popen([sys.executable, "-c", f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"])
    with CoreSampler(root.pid, interval=0.05) as sampler:
        root.wait()
        time.sleep(0.1)
    assert root.returncode == 0 and tree_cpu_seconds(root.pid, 100) is None  # a root gone is no sample
    # Before its exit the tree had spent at least most of the 1.2 s burnt (plus interpreter starts).
    assert max(cpu for _, cpu in sampler.samples) >= 1.0


def test_a_sample_that_misses_a_child_being_reaped_does_not_lower_the_trees_cpu(monkeypatch):
    # Read while dbt's process was being reaped, a sample once saw only the wrapper's 0.05 CPU-s: as the
    # last sample it took every node's CPU away (test_bench failed in CI with 0.05 of 20.4 CPU-s).
    import ltv.build_profile as build_profile

    readings = iter([1.0, 3.0, 0.05, 3.5])
    monkeypatch.setattr(build_profile, "tree_cpu_seconds", lambda pid, ticks: next(readings, None))
    monkeypatch.setattr(build_profile, "tree_memory_mb", lambda pid: 100.0)
    with CoreSampler(0, interval=0.01) as sampler:
        time.sleep(0.2)
    assert [cpu for _, cpu in sampler.samples] == [1.0, 3.0, 3.0, 3.5]


def test_the_sampler_sees_the_memory_of_a_child():
    # The child fills 300 MB (a repeated bytes object writes every page; bytearray(n) would not) and
    # holds it while sampled; the parent itself is a small interpreter.
    hold = "import time\nblock = b'x' * (300 * 1024 * 1024)\ntime.sleep(1.0)\n"
    root = subprocess.Popen([sys.executable, "-c", f"import subprocess, sys; subprocess.run([sys.executable, '-c', {hold!r}])"])
    with CoreSampler(root.pid, interval=0.1) as sampler:
        root.wait()
    peak = max(megabytes for _, megabytes in sampler.memory_samples)
    assert 300 <= peak < 600, peak


def _moment(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat().replace("+00:00", "Z")


def _node_result(name: str, start: float, end: float) -> dict:
    """A model's entry in run_results: compiled in its first 0.1 s, executed until `end` (epoch seconds)."""
    return {"unique_id": f"model.ltv.{name}", "timing": [
        {"name": "compile", "started_at": _moment(start), "completed_at": _moment(start + 0.1)},
        {"name": "execute", "started_at": _moment(start + 0.1), "completed_at": _moment(end)}]}


def test_memory_peak_names_the_nodes_running_at_the_peak():
    base = 1_800_000_000.0
    samples = [(base, 50.0), (base + 1.0, 900.0), (base + 2.0, 300.0)]
    results = {"results": [_node_result("finished_before", base - 1, base + 0.5), _node_result("long", base + 0.5, base + 3),
                           _node_result("ends_at_peak", base + 0.9, base + 1.0), _node_result("starts_after", base + 1.5, base + 2)]}
    assert memory_peak(samples, results) == {"peak_memory_mb": 900, "peak_memory_seconds": 1.0,
                                             "peak_memory_nodes": ["ends_at_peak", "long"]}
    assert memory_peak([], results)["peak_memory_mb"] is None
    assert memory_peak(samples, None)["peak_memory_nodes"] == []


def test_node_cpu_is_each_intervals_cpu_shared_by_the_time_each_node_ran_in_it():
    base = 1_800_000_000.0
    # Four 1-second intervals with 1.0, 2.0, 1.5 and 0.4 CPU-s. 0-1: nothing runs (dbt's start);
    # 1-2: only a (from 1); 2-3: a and b whole (b from 2 to 4); 3-4: b whole, a the first half (a ends at 3.5).
    samples = [(base, 0.0), (base + 1, 1.0), (base + 2, 3.0), (base + 3, 4.5), (base + 4, 4.9)]
    results = {"results": [_node_result("a", base + 1, base + 3.5), _node_result("b", base + 2, base + 4)]}
    # a: 2.0 + 1.5 / 2 + 0.4 * 0.5 / 1.5; b: 1.5 / 2 + 0.4 * 1.0 / 1.5.
    expected = {"a": 2.0 + 0.75 + 0.4 / 3, "b": 0.75 + 0.8 / 3, OUTSIDE_NODES: 1.0}
    estimated = node_cpu_seconds(samples, results)
    assert estimated == pytest.approx({name: round(cpu, 2) for name, cpu in expected.items()})
    assert list(estimated) == ["a", "b", OUTSIDE_NODES]  # most first
    assert sum(estimated.values()) == pytest.approx(4.9, abs=0.02)  # every CPU second once
    profile = cpu_profile(samples, results)
    assert profile["stage_cpu_seconds"]["other"] == pytest.approx(sum(estimated.values()))  # a, b: no stage
    assert node_cpu_seconds(samples[:1], results) == {} and node_cpu_seconds(samples, None) == {OUTSIDE_NODES: 4.9}


def test_budgets_apply_to_the_large_shop_only_and_say_what_is_over():
    full = {"wall_seconds": 200.0, "peak_rss_mb": 5000.0, "peak_memory_mb": 6500.0,
            "stage_seconds": {stage: budget / 2 for stage, budget in LARGE_STAGE_BUDGETS.items()} | {"text": 61.0},
            "node_seconds": {"ml_text_sentiment.v2": 19.0}}
    rows = {row["what"]: row for row in budget_verdicts("large", "full_build", full)}
    assert rows["run wall_seconds"]["over"] is True and rows["run peak_rss_mb"]["over"] is False
    # The largest process fits, the tree with its forked workers does not: that is over.
    assert rows["run peak_memory_mb"] == {"what": "run peak_memory_mb", "budget": 6144.0, "measured": 6500.0,
                                          "over": True}
    assert rows["stage text"] == {"what": "stage text", "budget": 60.0, "measured": 61.0, "over": True}
    assert [what for what, row in rows.items() if row["over"]] == ["run wall_seconds", "run peak_memory_mb",
                                                                   "stage text"]
    assert rows["node ml_text_sentiment.v2"]["over"] is False
    missing = next(node for node in LARGE_NODE_BUDGETS if node != "ml_text_sentiment.v2")
    assert rows[f"node {missing}"]["measured"] is None and rows[f"node {missing}"]["over"] is None
    assert budget_verdicts("medium", "full_build", full) == []
    assert [row["what"] for row in budget_verdicts("large", "incremental_build", {"wall_seconds": 50.0})] == [
        "run wall_seconds"]
