"""Where a build's time goes: its nodes grouped into stages, each stage against a budget, and how many
cores the build kept busy while it ran (issue 18: the large build within 3 minutes and 6 GB).

`ltv bench` reads dbt's run_results.json for the node times and samples the CPU time of dbt's process
tree twice a second. The budgets are for the large shop on the reference machine (2 cores, load
average below 1.3 at the start); at other scales the stages are reported without a verdict.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from datetime import datetime
from pathlib import Path

# Stages in build order. A node belongs to the first stage one of whose name prefixes its name starts
# with (models by name, tests and unit tests by their resource type); anything else (dbt's hooks, the
# exposures) is "other".
STAGES = (
    ("load and check", ("seed:", "base_", "stg_", "quarantine_rows")),
    ("text", ("int_texts_masked", "ml_text_sentiment", "ml_sentiment_evaluation", "ml_conversation_experience")),
    ("features", ("int_",)),
    ("user value", ("ml_user_value",)),
    ("recommendations", ("ml_item_", "ml_user_recommendations", "ml_recommendation_")),
    ("marts", ("fct_", "dim_")),
    ("data tests", ("test:", "unit_test:")),
)

# Large shop: seconds of node time per stage (the nodes of a stage may run beside each other and
# beside other stages: two dbt threads, so the stages add up to about twice the wall time), single
# nodes the issue names, and the run as a whole.
LARGE_STAGE_BUDGETS = {
    "load and check": 60.0, "text": 60.0, "features": 40.0, "user value": 30.0,
    "recommendations": 90.0, "marts": 30.0, "data tests": 30.0,
}
LARGE_NODE_BUDGETS = {
    "ml_text_sentiment.v2": 20.0,
    "ml_recommendation_evaluation": 15.0,
    "ml_item_content_similarities": 15.0,
}
# Memory twice: peak_rss_mb is the largest single process (getrusage), peak_memory_mb the sampled PSS
# of dbt's whole process tree, forked scoring workers included: the memory the machine must have.
LARGE_RUN_BUDGETS = {
    "full_build": {"wall_seconds": 180.0, "peak_rss_mb": 6144.0, "peak_memory_mb": 6144.0},
    "incremental_build": {"wall_seconds": 60.0},
}
BUDGETED_SCALE = "large"


def node_name(unique_id: str) -> str:
    """run_results' unique_id as the report names it: models and seeds by name (versioned models as
    name.vN), tests and unit tests prefixed with their type."""
    resource_type, _project, rest = unique_id.split(".", 2)
    if resource_type in ("model", "seed"):
        return rest if resource_type == "model" else f"seed:{rest}"
    return f"{resource_type}:{rest}"


def stage_of(name: str) -> str:
    for stage, prefixes in STAGES:
        if name.startswith(prefixes):
            return stage
    return "other"


def stage_seconds(node_seconds: dict[str, float]) -> dict[str, float]:
    totals = {stage: 0.0 for stage, _ in STAGES}
    for name, seconds in node_seconds.items():
        stage = stage_of(name)
        totals[stage] = totals.get(stage, 0.0) + seconds
    return {stage: round(seconds, 2) for stage, seconds in totals.items()}


def budget_verdicts(scale: str, run_key: str, run_report: dict) -> list[dict]:
    """One row per budget that applies to this run: what it measures, the budget, the measured value
    and whether it is over; none at a scale without budgets."""
    if scale != BUDGETED_SCALE:
        return []
    rows = []
    for measure, budget in LARGE_RUN_BUDGETS.get(run_key, {}).items():
        rows.append(_verdict(f"run {measure}", budget, run_report.get(measure)))
    if run_key == "full_build":
        stages = run_report.get("stage_seconds", {})
        rows += [_verdict(f"stage {stage}", budget, stages.get(stage)) for stage, budget in LARGE_STAGE_BUDGETS.items()]
        nodes = run_report.get("node_seconds", {})
        rows += [_verdict(f"node {node}", budget, nodes.get(node)) for node, budget in LARGE_NODE_BUDGETS.items()]
    return rows


def _verdict(what: str, budget: float, measured: float | None) -> dict:
    return {"what": what, "budget": budget, "measured": measured,
            "over": None if measured is None else measured > budget}


# --------------------------------------------------------------------------------------------------
# Cores busy over time


class CoreSampler:
    """Samples the CPU time and the memory of a process and all its descendants every `interval` seconds.

    A living process's utime + stime + cutime + cstime counts its own time and that of its children it
    has already waited for, so the sum over the living tree never counts a process twice and loses
    only what a child did between the last sample and its exit before its parent waited for it.
    Memory is the tree's proportional set size (PSS): forked workers share their parent's pages, and
    summing their RSS would count those pages once per worker.
    """

    def __init__(self, root_pid: int, interval: float = 0.5):
        self.root_pid, self.interval = root_pid, interval
        # (epoch seconds, CPU seconds of the tree): epoch, as run_results times its nodes.
        self.samples: list[tuple[float, float]] = []
        self.memory_samples: list[tuple[float, float]] = []  # (epoch seconds, MB of the tree's PSS)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ticks = os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> CoreSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            cpu = tree_cpu_seconds(self.root_pid, self._ticks)
            if cpu is not None:
                now = time.time()
                # The tree's CPU only grows. A sample read while a child is being reaped can miss it (its
                # parent's cutime read before, its own stat gone after): a dip, which would make the
                # intervals' differences lose its CPU, or all of dbt's when it is the last sample.
                self.samples.append((now, max(cpu, self.samples[-1][1]) if self.samples else cpu))
                self.memory_samples.append((now, tree_memory_mb(self.root_pid)))
            self._stop.wait(self.interval)


def process_tree(root_pid: int) -> list[int]:
    """The root and its living descendants ([] once the root is gone)."""
    tree, pending = [], [root_pid]
    while pending:
        pid = pending.pop()
        if pid in tree:
            continue
        tasks = Path(f"/proc/{pid}/task")
        try:
            if not tasks.is_dir():  # glob of a missing folder is empty, not an error
                raise ProcessLookupError(pid)
            children = [int(child) for children_file in tasks.glob("*/children")
                        for child in children_file.read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            if pid == root_pid:
                return []
            continue
        tree.append(pid)
        pending += children
    return tree


def tree_cpu_seconds(root_pid: int, ticks_per_second: int) -> float | None:
    pids = process_tree(root_pid)
    if not pids:
        return None
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        total += sum(int(field) for field in fields[11:15])  # utime, stime, cutime, cstime
    return total / ticks_per_second


def tree_memory_mb(root_pid: int) -> float:
    total_kb = 0
    for pid in process_tree(root_pid):
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kb += int(line.split()[1])
                    break
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total_kb / 1024


def node_intervals(run_results: dict | None) -> list[tuple[str, float, float]]:
    """(node, start, end) in epoch seconds for every node of run_results that has times: from its first
    step's start (compile) to its last step's end (execute)."""
    intervals = []
    for result in (run_results or {}).get("results", []):
        times = [datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp()
                 for step in result.get("timing", []) for moment in (step.get("started_at"), step.get("completed_at"))
                 if moment]
        if times:
            intervals.append((node_name(result["unique_id"]), min(times), max(times)))
    return intervals


def memory_peak(memory_samples: list[tuple[float, float]], run_results: dict | None) -> dict:
    """The sampled peak of the tree's memory, when it happened (seconds after the first sample) and
    which nodes were running then (node_intervals): the nodes to look at first when the peak is over
    budget."""
    if not memory_samples:
        return {"peak_memory_mb": None, "peak_memory_seconds": None, "peak_memory_nodes": []}
    at, megabytes = max(memory_samples, key=lambda sample: sample[1])
    running = [name for name, start, end in node_intervals(run_results) if start <= at <= end]
    return {"peak_memory_mb": round(megabytes), "peak_memory_seconds": round(at - memory_samples[0][0], 1),
            "peak_memory_nodes": sorted(running)}


# What no node ran in: dbt's start, parse, hooks between nodes and artifacts.
OUTSIDE_NODES = "(dbt outside nodes)"


def node_cpu_seconds(samples: list[tuple[float, float]], run_results: dict | None) -> dict[str, float]:
    """An estimate of the CPU seconds each node cost, most first: the CPU the process tree spent between
    two samples, shared among the nodes running then in proportion to the part of the interval each ran
    (OUTSIDE_NODES when none did). Node times say how long a node waited too (two dbt threads, forked
    workers, the other node's DuckDB threads); the CPU is what a faster build must remove. Nodes side by
    side share by time, not by what each used: a map of where CPU goes, not a measure of one node."""
    intervals = node_intervals(run_results)
    totals: dict[str, float] = {}
    for (start, cpu_start), (end, cpu_end) in itertools.pairwise(samples):
        overlaps = {name: min(node_end, end) - max(node_start, start)
                    for name, node_start, node_end in intervals if node_start < end and node_end > start}
        running = sum(overlaps.values())
        for name, overlap in (overlaps.items() if running > 0 else [(OUTSIDE_NODES, 1.0)]):
            share = (cpu_end - cpu_start) * (overlap / running if running > 0 else 1.0)
            totals[name] = totals.get(name, 0.0) + share
    return {name: round(seconds, 2) for name, seconds in sorted(totals.items(), key=lambda item: -item[1])}


def core_profile(samples: list[tuple[float, float]], one_core_below: float = 1.5) -> dict:
    """From (time, CPU seconds) samples: the average cores busy, and the share of the wall time in
    which the build kept fewer than `one_core_below` cores busy (about one core or less: the other
    idled, what issue 18 calls the one-core share)."""
    if len(samples) < 2:
        return {"one_core_share": None, "sampled_seconds": 0.0}
    one_core, wall = 0.0, 0.0
    for (start, cpu_start), (end, cpu_end) in itertools.pairwise(samples):
        seconds = end - start
        wall += seconds
        if seconds > 0 and (cpu_end - cpu_start) / seconds < one_core_below:
            one_core += seconds
    return {"one_core_share": round(one_core / wall, 3) if wall else None, "sampled_seconds": round(wall, 1)}


def cpu_profile(samples: list[tuple[float, float]], run_results: dict | None) -> dict:
    """Each node's estimated CPU seconds (node_cpu_seconds) and their totals per stage."""
    node_cpu = node_cpu_seconds(samples, run_results)
    return {"node_cpu_seconds": node_cpu, "stage_cpu_seconds": stage_seconds(node_cpu)}
