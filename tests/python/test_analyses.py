"""analyses/*.sql rendered as plain SQL for the served file (ltv analyses). The check that every
shipped analysis runs on a published served file, with the same rows as dbt's own compilation on
the full warehouse, is in test_publish_anywhere.py (it reuses that file's publishes)."""

from __future__ import annotations

import duckdb
import pytest
from conftest import PROJECT_DIR

from ltv.analyses import HEADER, render_analysis, write_analyses
from ltv.cli import main as cli_main

SERVED = {"dim_users": "main", "fct_user_recommendations_v2": "main", "dim_items": "analytics"}


def test_refs_become_the_served_names():
    sql = "select * from {{ ref('dim_users') }} join {{ ref(\"fct_user_recommendations\", v=2) }} using (user_id)"
    assert render_analysis(sql, SERVED) == "select * from dim_users join fct_user_recommendations_v2 using (user_id)"
    assert render_analysis("from {{ ref('fct_user_recommendations', version=2) }}", SERVED) == \
        "from fct_user_recommendations_v2"


def test_a_relation_outside_main_is_qualified_with_its_schema():
    assert render_analysis("select count(*) from {{ ref('dim_items') }}", SERVED) == "select count(*) from analytics.dim_items"


def test_an_internal_model_is_refused_by_name():
    # The served file holds only public marts; this is what analyses/recommendation_coverage.sql once read.
    with pytest.raises(ValueError, match=r"^analyses/x.sql reads stg_shop__items, which the served file does not hold"):
        render_analysis("select count(*) from {{ ref('stg_shop__items') }}", SERVED, "analyses/x.sql")


def test_other_jinja_is_refused_rather_than_rendered_wrongly():
    with pytest.raises(ValueError, match="uses Jinja other than ref"):
        render_analysis("select {{ var('ltv_horizon_days') }}", SERVED)


def test_every_shipped_analysis_reads_only_public_models():
    # Public = access: public in the models' YAML; the served file holds exactly those (ltv.served_file).
    import yaml

    public = set()
    for properties in (PROJECT_DIR / "models").rglob("*.yml"):
        for model in (yaml.safe_load(properties.read_text()) or {}).get("models", []) or []:
            if model.get("access") == "public":
                public.add(model["name"])
                public.update(f"{model['name']}_v{version['v']}" for version in model.get("versions", []))
    public.add("quarantine_rows")
    for analysis in sorted((PROJECT_DIR / "analyses").glob("*.sql")):
        render_analysis(analysis.read_text(), dict.fromkeys(public, "main"), f"analyses/{analysis.name}")


def small_served_file(path) -> None:
    connection = duckdb.connect(str(path))
    connection.execute("create table dim_users as select 'U1' as user_id, 10.0 as predicted_spend")
    connection.close()


def test_only_queries_that_run_are_written_and_failures_are_named(tmp_path):
    project = tmp_path / "project"
    (project / "analyses").mkdir(parents=True)
    (project / "analyses" / "good.sql").write_text("select sum(predicted_spend) as total from {{ ref('dim_users') }}\n")
    (project / "analyses" / "bad_column.sql").write_text("select no_such_column from {{ ref('dim_users') }}\n")
    (project / "analyses" / "internal.sql").write_text("select * from {{ ref('stg_shop__users') }}\n")
    served = tmp_path / "served.duckdb"
    small_served_file(served)
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.sql").write_text("select 1 -- a user's own file, not ours to delete\n")
    (out / "removed.sql").write_text(HEADER.format(source="analyses/removed.sql") + "select 1\n")
    written, failures = write_analyses(project, served, out)
    assert [path.name for path in written] == ["good.sql"]
    assert failures == [
        "analyses/bad_column.sql does not run against the served file: "
        'Binder Error: Referenced column "no_such_column" not found in FROM clause!',
        "analyses/internal.sql reads stg_shop__users, which the served file does not hold (it holds only the public marts)"]
    assert sorted(path.name for path in out.iterdir()) == ["good.sql", "mine.sql"]
    connection = duckdb.connect(str(served), read_only=True)
    assert connection.execute((out / "good.sql").read_text()).fetchall() == [(10.0,)]
    connection.close()


def test_the_command_says_when_there_is_no_served_file(tmp_path, capsys):
    assert cli_main(["analyses", "--project-dir", str(PROJECT_DIR), "--served", str(tmp_path / "none.duckdb")]) == 1
    assert capsys.readouterr().err == (f"ltv analyses: {tmp_path / 'none.duckdb'} does not exist; "
                                       "run ltv publish first (or pass --served)\n")
