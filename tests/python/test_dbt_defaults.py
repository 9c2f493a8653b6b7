"""Plain `dbt` from the project root works as a new user types it: profiles found by dbt's own
lookup, no usage data sent, no warning on a clean parse, and a mistyped ltv_* var refused by name."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml
from conftest import PROJECT_DIR, dbt_executable


def plain_environment(work_dir) -> dict:
    """What a new user's shell has: no DBT_* settings and a home without ~/.dbt."""
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith("DBT_") and not name.startswith("LTV_")}
    home = work_dir / "home"
    home.mkdir(exist_ok=True)
    environment.update({
        "HOME": str(home),
        # Only the output locations move, so the test never writes into the checkout.
        "LTV_TARGET": "ci",
        "LTV_DUCKDB_PATH": str(work_dir / "warehouse.duckdb"),
    })
    return environment


def plain_dbt(arguments: list[str], work_dir) -> subprocess.CompletedProcess:
    command = [dbt_executable(), *arguments, "--target-path", str(work_dir / "target"), "--log-path", str(work_dir / "logs")]
    return subprocess.run(command, cwd=PROJECT_DIR, env=plain_environment(work_dir), capture_output=True, text=True)


@pytest.fixture(scope="module")
def clean_parse(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp("plain_parse")
    result = plain_dbt(["parse", "--no-partial-parse"], work_dir)
    return work_dir, result


def test_dbt_from_the_root_finds_the_profile_without_profiles_dir(clean_parse):
    _, result = clean_parse
    assert result.returncode == 0, result.stdout[-3000:]
    assert "does not exist" not in result.stdout


def test_a_clean_parse_prints_no_warning(clean_parse):
    _, result = clean_parse
    warnings = [line for line in result.stdout.splitlines() if "WARNING" in line or "warning" in line.lower()]
    assert warnings == [], result.stdout[-3000:]


def test_anonymous_usage_tracking_is_off_without_any_environment_setting(clean_parse):
    work_dir, _ = clean_parse
    metadata = json.loads((work_dir / "target" / "manifest.json").read_text())["metadata"]
    assert metadata["send_anonymous_usage_stats"] is False


def test_the_project_sets_the_flag_itself():
    # The manifest above shows the effect; this says where it comes from (not a user's environment).
    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())
    assert project["flags"]["send_anonymous_usage_stats"] is False


def declared_vars() -> list[str]:
    return list(yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"])


def test_a_mistyped_var_stops_the_run_naming_it_and_the_closest_declared_var(tmp_path):
    # ltv_horizon is not declared; ltv_horizon_days is the closest by edit distance (5 insertions).
    assert "ltv_horizon" not in declared_vars() and "ltv_horizon_days" in declared_vars()
    result = plain_dbt(["seed", "--select", "users", "--vars", "{ltv_horizon: 90}"], tmp_path)
    assert result.returncode != 0
    assert "unknown var 'ltv_horizon': dbt_project.yml declares no such var (did you mean 'ltv_horizon_days'?)" \
        in result.stdout
    assert not (tmp_path / "warehouse.duckdb").exists() or "users" not in _tables(tmp_path / "warehouse.duckdb")


def test_declared_vars_and_other_projects_vars_pass(tmp_path):
    # A declared ltv_ var and a var outside the ltv_ namespace (e.g. a package's) are not refused.
    result = plain_dbt(["seed", "--select", "users", "--vars", "{ltv_random_seed: 3, some_package_var: 1}"], tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "users" in _tables(tmp_path / "warehouse.duckdb")


def _tables(warehouse_path) -> set[str]:
    import duckdb

    connection = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        return {row[0] for row in connection.execute("select table_name from duckdb_tables()").fetchall()}
    finally:
        connection.close()


@pytest.mark.parametrize("limit, shown", [("lots", None), ("16gb", "14.9 GiB"), (" 512MB ", "488.2 MiB")])
def test_duckdb_memory_limit_is_applied_or_refused_by_name(tmp_path, limit, shown):
    environment = {**plain_environment(tmp_path), "LTV_DUCKDB_MEMORY_LIMIT": limit}
    command = [dbt_executable(), "show", "--inline", "select current_setting('memory_limit') as m",
               "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")]
    result = subprocess.run(command, cwd=PROJECT_DIR, env=environment, capture_output=True, text=True)
    if shown is None:
        assert result.returncode != 0 and "Traceback" not in result.stdout + result.stderr
        assert "LTV_DUCKDB_MEMORY_LIMIT must be a size such as 3GB or 16GB, not lots" in result.stdout
    else:
        assert result.returncode == 0 and f"| {shown} |" in result.stdout, result.stdout
