"""`ltv bench` end to end, at a scale smaller than the smallest it offers: both builds run and the report
holds what it claims. The bench's code is the same at every scale, and most of a build's cost at these
sizes is dbt's work per node: a 300-user shop costs 84-88 CPU-s for a full and an incremental build
where the demo scale's 2,000 users cost 101 (measured on this machine)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

import ltv.bench
from ltv.bench import benchmark, render_markdown
from ltv.build_profile import stage_of

PROJECT_DIR = Path(__file__).resolve().parents[2]


USERS, ITEMS = 300, 100


def test_the_benchmark_reports_both_builds(tmp_path, monkeypatch):
    monkeypatch.setitem(ltv.bench.SCALES, "small", (USERS, ITEMS))
    report = benchmark(scale="small", seed=3, data_dir=tmp_path / "data", out_dir=tmp_path / "out",
                       project_dir=PROJECT_DIR, incremental_runs=2)
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
        # RSS plus its workers, and some node was running when it was sampled.
        assert 50 < run["peak_memory_mb"] < 3 * run["peak_rss_mb"] and run["peak_memory_nodes"]
        assert set(run["peak_memory_nodes"]) <= set(run["node_seconds"])
    assert full["stage_seconds"]["data tests"] > 0 and full["stage_seconds"]["user value"] > 0
    assert report["budgets"] == []  # budgets are for the large shop
    # The incremental build ran with the full build's cut-off.
    warehouse = duckdb.connect(str(tmp_path / "out" / "small" / "warehouse.duckdb"), read_only=True)
    try:
        cutoff = warehouse.execute("select cast(cutoff_date as varchar) from intermediate.int_model_settings").fetchall()[0][0]
        # Each incremental run started from the full build: the warehouse saw two builds, not three.
        builds = warehouse.execute("select count(*) from registry.dbt_invocations").fetchall()[0][0]
    finally:
        warehouse.close()
    assert report["pinned_cutoff_date"] == cutoff
    assert builds == 2 and len(report["incremental_wall_seconds"]) == 2
    written = json.loads((tmp_path / "out" / "small" / "report.json").read_text())
    assert written["incremental_build"]["table_rows"] == incremental["table_rows"]
    markdown = render_markdown(report)
    assert "| incremental build (+1%) | 0 |" in markdown and cutoff in markdown
    assert f"Memory peak of the full build (PSS of dbt's process tree, sampled): {full['peak_memory_mb']:,} MB" in markdown
    assert "## Node seconds per stage" in markdown and "| user value |" in markdown
