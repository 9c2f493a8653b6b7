"""`ltv publish` from any folder of the project: where it finds the project and the served file, and
what it says outside a project. The publishes from a subdirectory and after switching raw source without
--fresh (the README's "Publish safely" example) are steps of the one sequence of real publishes in
test_publish.py, which serves every test of a real build there."""

from __future__ import annotations

import os

from conftest import PROJECT_DIR

from ltv.cli import main as cli_main
from ltv.publish import DEFAULT_SERVED_PATH, find_project_dir, served_path_for


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
