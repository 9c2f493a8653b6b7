"""`ltv bench` end to end at the smallest scale it offers (the demo's 2,000 users): both builds run and the
report holds what it claims. (At 300 users a build was no cheaper, 88 and 85 CPU-s for the full and the
incremental build against 101 and 84, but so short that the sampled memory peak could fall between
nodes, and the report's claim that a node was running at the peak was not tested.)"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

import ltv.bench
from ltv.bench import benchmark, median_run, render_markdown, runs_from_one_start
from ltv.build_profile import stage_of

PROJECT_DIR = Path(__file__).resolve().parents[2]


USERS, ITEMS = ltv.bench.SCALES["demo"]


def test_the_benchmark_reports_both_builds(tmp_path):
    report = benchmark(scale="demo", seed=3, data_dir=tmp_path / "data", out_dir=tmp_path / "out",
                       project_dir=PROJECT_DIR, incremental_runs=1)
    full, incremental = report["full_build"], report["incremental_build"]
    assert full["exit_code"] == 0 and incremental["exit_code"] == 0
    # The data was generated at the scale asked for and the full build loaded every user and item.
    assert report["data_rows"]["users"] == USERS and report["data_rows"]["items"] == ITEMS
    assert full["table_rows"]["staging.base_shop__users"] == USERS
    assert full["table_rows"]["staging.base_shop__items"] == ITEMS
    # About 1% new orders, each a copy of an existing one with its lines.
    assert 0.005 * report["data_rows"]["orders"] < report["appended_rows"]["orders"] < 0.02 * report["data_rows"]["orders"]
    assert incremental["table_rows"]["staging.base_shop__orders"] == (
        full["table_rows"]["staging.base_shop__orders"] + report["appended_rows"]["orders"])
    for run in (full, incremental):
        assert run["wall_seconds"] > 0 and run["peak_rss_mb"] > 50 and run["cpu_seconds"] > 0
        assert "ml_user_value.v3" in run["model_seconds"]
        # Every node of the build is in a stage (only dbt's hooks and the exposures are "other"), and each once.
        assert [name for name in run["node_seconds"]
                if stage_of(name) == "other" and not name.startswith(("operation:", "exposure:"))] == []
        assert sum(run["stage_seconds"].values()) == pytest.approx(sum(run["node_seconds"].values()), abs=0.1)
        assert 0 <= run["one_core_share"] <= 1 and run["sampled_seconds"] > 0.5 * run["wall_seconds"]
        # The sampled memory peak is the tree's proportional size: at most about the largest process's peak
        # RSS plus its workers; the nodes named are the build's. On the demo the peak may fall outside
        # every node (parsing, writing the artifacts): then none is named (test_build_profile checks the
        # naming itself).
        assert 50 < run["peak_memory_mb"] < 3 * run["peak_rss_mb"]
        assert set(run["peak_memory_nodes"]) <= set(run["node_seconds"])
        # The CPU estimate shares out every sampled CPU second: the nodes' and dbt's own add up to what the
        # sampler saw, and the models that fit take some.
        sampled_cpu = sum(run["node_cpu_seconds"].values())
        assert 0.5 * run["cpu_seconds"] < sampled_cpu <= 1.05 * run["cpu_seconds"]
        assert run["node_cpu_seconds"]["ml_user_value.v3"] > 0
        assert sum(run["stage_cpu_seconds"].values()) == pytest.approx(sampled_cpu, abs=0.1)
    assert full["stage_seconds"]["data tests"] > 0 and full["stage_seconds"]["user value"] > 0
    assert report["budgets"] == []  # budgets are for the large shop
    # The incremental build ran with the full build's cut-off.
    warehouse = duckdb.connect(str(tmp_path / "out" / "demo" / "warehouse.duckdb"), read_only=True)
    try:
        cutoff = warehouse.execute("select cast(cutoff_date as varchar) from intermediate.int_model_settings").fetchall()[0][0]
        # The incremental run started from the full build's warehouse: it saw two builds.
        builds = warehouse.execute("select count(*) from registry.dbt_invocations").fetchall()[0][0]
    finally:
        warehouse.close()
    assert report["pinned_cutoff_date"] == cutoff
    assert builds == 2 and report["incremental_wall_seconds"] == [incremental["wall_seconds"]]
    written = json.loads((tmp_path / "out" / "demo" / "report.json").read_text())
    assert written["incremental_build"]["table_rows"] == incremental["table_rows"]
    markdown = render_markdown(report)
    assert "| incremental build (+1%) | 0 |" in markdown and cutoff in markdown
    assert f"Memory peak of the full build (PSS of dbt's process tree, sampled): {full['peak_memory_mb']:,} MB" in markdown
    assert "## Node seconds and estimated CPU seconds per stage" in markdown and "| user value |" in markdown
    top_cpu_node, top_cpu = next(iter(full["node_cpu_seconds"].items()))
    assert "## Full build: most CPU, estimated (s)" in markdown and f"| {top_cpu_node} | {top_cpu} |" in markdown


# --incremental-runs repeats the incremental build, each run from the full build's warehouse: checked here on
# a warehouse whose "build" is one insert, since a second dbt build would cost ~35 CPU-s to check a file copy.

def test_each_repeated_run_starts_from_the_warehouse_the_full_build_left(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    connection = duckdb.connect(str(warehouse))
    connection.execute("create table builds as select 0.0 as attempt")
    connection.close()

    def a_build_that_leaves_its_log(attempt: int) -> dict:
        # It writes into the file (a checkpoint) and then into its write-ahead log, which stays beside the
        # file as a build's does when it ends without a checkpoint: DuckDB would replay it onto the copy
        # put back for the next run unless it is dropped.
        connection = duckdb.connect(str(warehouse))
        seen = [row[0] for row in connection.execute("select attempt from builds order by attempt").fetchall()]
        connection.execute("insert into builds values (?)", [attempt])
        connection.execute("checkpoint")
        connection.execute("pragma disable_checkpoint_on_shutdown")
        connection.execute("insert into builds values (?)", [attempt + 0.5])
        connection.close()
        return {"attempt": attempt, "seen": seen, "log_left": warehouse.with_name(warehouse.name + ".wal").exists()}

    runs = runs_from_one_start(warehouse, 3, a_build_that_leaves_its_log)
    assert runs == [{"attempt": attempt, "seen": [0], "log_left": True} for attempt in (1, 2, 3)]
    # The copy is gone; the last run's warehouse stays.
    assert sorted(path.name for path in tmp_path.iterdir()) == ["warehouse.duckdb", "warehouse.duckdb.wal"]


def test_the_run_with_the_median_wall_time_stands_for_repeated_runs():
    runs = [{"wall_seconds": seconds} for seconds in (30.0, 10.0, 20.0)]
    assert median_run(runs) is runs[2]
    assert median_run(runs[:2]) is runs[1]  # of two, the faster
    assert median_run(runs[:1]) is runs[0]
