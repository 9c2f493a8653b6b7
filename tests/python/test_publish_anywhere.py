"""`ltv publish` from any folder of the project, and after switching raw source without --fresh:
the README's "Publish safely" example (`ltv publish`, then `LTV_RAW_DIR=/data/shop ltv publish`) and
back, on the demo-size data. One sequence of publishes into one served file serves every test here."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from conftest import PROJECT_DIR, SEEDS_DIR, dbt_environment, reusing_a_saved_parse, run_dbt

from ltv.cli import main as cli_main
from ltv.publish import DEFAULT_SERVED_PATH, find_project_dir, served_path_for, state_path_for

RAW_TABLES = ["users", "items", "orders", "order_items", "events", "reviews", "support_conversations"]


def ltv_publish(served: Path, work_dir: Path, cwd: Path, raw_dir: Path | None = None) -> subprocess.CompletedProcess:
    """`ltv publish` as a user types it: the served file from LTV_DUCKDB_PATH, the raw files from LTV_RAW_DIR."""
    environment = dbt_environment(served, work_dir, raw_dir)
    command = [sys.executable, "-m", "ltv.cli", "publish", "--no-docs"]
    with reusing_a_saved_parse(work_dir / "target", served.name, "files" if raw_dir else "demo"):
        return subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True)


def query(path: Path, sql: str) -> list[tuple]:
    connection = duckdb.connect(str(path), read_only=True)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def seed_rows(table: str) -> int:
    with open(SEEDS_DIR / f"{table}.csv", newline="") as seed:
        import csv

        return sum(1 for _ in csv.reader(seed)) - 1


@pytest.fixture(scope="module")
def switched(tmp_path_factory):
    """demo (typed in models/) → the same shop as LTV_RAW_DIR files → demo again, into one served file.

    Before the last publish the state gets what an ltv from before raw_files left behind: raw.users
    as a view over a file, where the demo seed must go.
    """
    root = tmp_path_factory.mktemp("switch")
    raw_dir = root / "shop"
    raw_dir.mkdir()
    for table in RAW_TABLES:
        shutil.copy(SEEDS_DIR / f"{table}.csv", raw_dir / f"{table}.csv")
    served = root / "served" / "ltv.duckdb"
    stray = PROJECT_DIR / "models" / "warehouse"
    assert not stray.exists()
    results = {"demo": ltv_publish(served, root / "demo", PROJECT_DIR / "models")}
    results["stray_folder"] = stray.exists()
    results["demo_users"] = query(served, "select count(*) from dim_users")
    results["files"] = ltv_publish(served, root / "files", PROJECT_DIR, raw_dir)
    results["files_state"] = query(state_path_for(served), "select distinct source_kind from staging.base_shop__raw_tables")
    results["files_users"] = query(served, "select count(*) from dim_users")
    connection = duckdb.connect(str(state_path_for(served)))
    connection.execute(f"drop table raw.users; create view raw.users as select * from read_csv('{raw_dir}/users.csv')")
    connection.close()
    results["back"] = ltv_publish(served, root / "back", PROJECT_DIR)
    results["back_state"] = query(state_path_for(served), "select distinct source_kind from staging.base_shop__raw_tables")
    results["served"] = served
    # dbt's own compilation of the analyses, over the full warehouse (the state), as the reference.
    results["compiled"] = run_dbt(["compile", "--select", "path:analyses"],
                                  dbt_environment(state_path_for(served), root / "compile"))
    results["compiled_dir"] = root / "compile" / "target" / "compiled" / "ltv" / "analyses"
    results["back_raw_users"] = query(
        state_path_for(served), "select table_type, (select count(*) from raw.users) from information_schema.tables "
                                "where table_schema = 'raw' and table_name = 'users'")
    return results


def assert_published(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "now serves the new build" in result.stdout


def test_publish_from_a_subdirectory_builds_and_leaves_no_stray_folder(switched):
    assert_published(switched["demo"])
    assert switched["stray_folder"] is False
    assert switched["demo_users"] == [(seed_rows("users"),)]


def test_demo_then_files_without_fresh(switched):
    # Was: Catalog Error: Existing object "users" is of type Table, trying to replace with type View.
    assert_published(switched["files"])
    assert switched["files_state"] == [("files",)]
    # The files are the demo's own CSVs, so the same users are served.
    assert switched["files_users"] == switched["demo_users"]


def test_files_then_demo_without_fresh_even_over_an_older_file_view(switched):
    # Was: Cannot seed to '"ltv"."raw"."users"', it is a view.
    assert_published(switched["back"])
    assert "dropping raw.users, a view over a file" in switched["back"].stdout
    assert switched["back_state"] == [("demo",)]
    assert switched["back_raw_users"] == [("BASE TABLE", seed_rows("users"))]


def test_the_project_is_found_upward_from_any_folder_in_it():
    assert find_project_dir(PROJECT_DIR / "models" / "marts" / "ml") == PROJECT_DIR
    assert find_project_dir(PROJECT_DIR) == PROJECT_DIR


def test_outside_a_project_publish_says_so_in_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli_main(["publish", "--no-docs"]) == 1
    assert capsys.readouterr().err == (f"ltv publish: no dbt_project.yml in {tmp_path.resolve()} or any folder above it; "
                                       "run ltv inside the ltv project or pass --project-dir\n")


def test_default_paths_are_read_from_the_project_folder_as_dbt_reads_them(tmp_path, monkeypatch):
    monkeypatch.delenv("LTV_DUCKDB_PATH", raising=False)
    assert served_path_for(None, PROJECT_DIR) == PROJECT_DIR / DEFAULT_SERVED_PATH
    monkeypatch.setenv("LTV_DUCKDB_PATH", "warehouse/other.duckdb")
    assert served_path_for(None, PROJECT_DIR) == PROJECT_DIR / "warehouse" / "other.duckdb"
    # --served is typed by the user, so it is taken from where they typed it.
    monkeypatch.chdir(tmp_path)
    assert served_path_for("here.duckdb", PROJECT_DIR) == tmp_path.resolve() / "here.duckdb"
    assert os.environ["LTV_DUCKDB_PATH"] == "warehouse/other.duckdb"


def test_publish_ships_every_analysis_as_plain_sql_that_runs_on_the_served_file(switched):
    analyses = sorted(path.name for path in (PROJECT_DIR / "analyses").glob("*.sql"))
    shipped_dir = switched["served"].parent / "analyses"
    assert analyses and sorted(path.name for path in shipped_dir.glob("*.sql")) == analyses
    assert f"ltv publish: {len(analyses)} queries for BI tools (plain SQL): {shipped_dir}" in switched["back"].stdout
    for name in analyses:
        shipped = (shipped_dir / name).read_text()
        assert "{{" not in shipped and "{%" not in shipped
        on_served = query(switched["served"], shipped)
        # The same rows as dbt's compilation of the analysis on the full warehouse it was served from.
        on_state = query(state_path_for(switched["served"]), (switched["compiled_dir"] / name).read_text())
        # Sorted: rows an ORDER BY leaves tied may come in either order.
        assert sorted(on_served, key=repr) == sorted(on_state, key=repr), name
        expect_rows = name != "quarantine_by_reason.sql" or query(switched["served"], "select count(*) from quarantine_rows")[0][0]
        assert bool(on_served) == bool(expect_rows), name
