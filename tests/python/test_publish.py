"""Safe serving, from any folder: BI keeps reading the served file while `ltv publish` rebuilds it, a
failed build leaves the served file byte-for-byte as it was, the served file holds only what is public
(the full warehouse stays in the private state file), one publish runs at a time, no process of a
publish outlives it, and `ltv publish` works from a subdirectory of the project and after switching raw
source both ways without --fresh (the README's "Publish safely" example: `ltv publish`, then
`LTV_RAW_DIR=/data/shop ltv publish`, and back).

A build costs about 40 CPU-s whatever the shop's size (most of it is dbt's own work per node), so one
sequence of real publishes into one served file (the fixture `sequence`) serves every test here that
needs a build; each test asserts on what its step left.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from conftest import PROJECT_DIR, SEEDS_DIR, dbt_environment, reusing_a_saved_parse, run_dbt
from publish_processes import (
    assert_all_gone,
    processes_while_dbt_builds,
    wait_for,
)

from ltv.publish import _start_build_file, lock_path_for, public_models, publish_lock, state_path_for

# A BI client: every half-tenth of a second it opens the served file read-only, reads two marts and
# records what it saw, one JSON line per read. It opens the file by its name for every read, as a new
# connection would, by attaching it to one DuckDB instance kept for all reads: a new instance per read
# costs about 20 ms CPU more to start (a third of a core at this rate), for nothing this test looks at.
READER = r"""
import json, sys, time, duckdb
served, stop_file, out = sys.argv[1], sys.argv[2], sys.argv[3]
client = duckdb.connect(config={"threads": 1})
with open(out, "w") as log:
    while True:
        stop = __import__("os").path.exists(stop_file)
        try:
            client.execute(f"attach '{served}' as served (read_only)")
            users, fingerprint = client.execute(
                "select count(*), sum(hash(user_id)) from served.dim_users").fetchall()[0]
            summarised = client.execute("select sum(users) from served.fct_segment_summary").fetchall()[0][0]
            log.write(json.dumps({"ok": True, "users": users, "fingerprint": str(fingerprint),
                                  "summarised": summarised}) + "\n")
        except Exception as error:
            log.write(json.dumps({"ok": False, "error": repr(error)}) + "\n")
        finally:
            client.execute("detach database if exists served")
        log.flush()
        if stop:
            break
        time.sleep(0.05)
"""

RAW_TABLES = ["users", "items", "orders", "order_items", "events", "reviews", "support_conversations"]


def publish_command(served: Path, raw_dir: Path | None, work_dir: Path,
                    extra: list[str] | None = None) -> tuple[list[str], dict]:
    """`ltv publish` of `raw_dir` (None: the bundled demo) into `served`, and its environment."""
    environment = dbt_environment(served, work_dir, raw_dir)
    environment.pop("LTV_DUCKDB_PATH")
    command = [sys.executable, "-m", "ltv.cli", "publish", "--served", str(served), "--no-docs", *(extra or [])]
    if raw_dir is not None:
        command += ["--raw-dir", str(raw_dir)]
    return command, environment


def publish(served: Path, raw_dir: Path | None, work_dir: Path,
            extra: list[str] | None = None) -> subprocess.CompletedProcess:
    command, environment = publish_command(served, raw_dir, work_dir, extra)
    with reusing_a_saved_parse(work_dir / "target", served.name, "files" if raw_dir else "demo"):
        return subprocess.run(command, cwd=PROJECT_DIR, env=environment, capture_output=True, text=True)


def typed_command(served: Path, work_dir: Path, raw_dir: Path | None = None,
                  extra: list[str] | None = None) -> tuple[list[str], dict]:
    """`ltv publish` as a user types it: the served file from LTV_DUCKDB_PATH, the raw files from LTV_RAW_DIR."""
    return ([sys.executable, "-m", "ltv.cli", "publish", "--no-docs", *(extra or [])],
            dbt_environment(served, work_dir, raw_dir))


def ltv_publish(served: Path, work_dir: Path, cwd: Path, raw_dir: Path | None = None,
                extra: list[str] | None = None) -> subprocess.CompletedProcess:
    command, environment = typed_command(served, work_dir, raw_dir, extra)
    with reusing_a_saved_parse(work_dir / "target", served.name, "files" if raw_dir else "demo"):
        return subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True)


def query(path: Path, sql: str) -> list[tuple]:
    connection = duckdb.connect(str(path), read_only=True)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def csv_rows(path: Path) -> int:
    with path.open(newline="") as rows:
        return sum(1 for _ in csv.reader(rows)) - 1


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------------------------------
# The sequence of publishes

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
QUARANTINED_EMAIL = "quarantined.buyer@example.org"
HOSTILE_COMMENTS = [
    "Call me on 138 0013 8000 or 13800138000 about the refund",
    "Pay it back to DE89370400440532013000 or GB29 NWBK 6016 1331 9268 19 please",
    "Card 4111.1111.1111.1111 was charged twice",
    "write to john at example dot com or john(at)example(dot)com",
]
LEAKED = ["138 0013 8000", "13800138000", "DE89370400440532013000", "GB29 NWBK", "4111.1111.1111.1111",
          "john at example", "john(at)example"]


def demo_files_with_a_new_user_and_hostile_reviews(folder: Path) -> Path:
    """The demo seeds as raw CSV files, plus a user (so that BI sees other data once they are served), a
    review with an impossible rating and an e-mail in its comment, and accepted reviews with the formats
    that once leaked into public tables (issue 16)."""
    folder.mkdir()
    for table in RAW_TABLES:
        shutil.copy2(SEEDS_DIR / f"{table}.csv", folder / f"{table}.csv")
    with (folder / "users.csv").open("a") as users:
        users.write('"U0999999","2025-05-02 09:30:00","DE"\n')
    with (folder / "reviews.csv").open("a") as reviews:
        reviews.write(f'"R09999999","U0000007","I00171",9,"Wrong size, write to {QUARANTINED_EMAIL} '
                      f'or call +44 20 7946 0958","2025-06-03 07:23:54"\n')
        for number, comment in enumerate(HOSTILE_COMMENTS):
            reviews.write(f'"R0999998{number}","U0000007","I00171",3,"{comment}","2025-06-0{number + 1} 10:00:00"\n')
    return folder


@contextlib.contextmanager
def a_bi_client_reading(served: Path, folder: Path):
    """READER on `served` from a second before to a second after the block; yields the list its reads go to."""
    stop_file, reads_file, reads = folder / "reader.stop", folder / "reads.jsonl", []
    reader = subprocess.Popen([sys.executable, "-c", READER, str(served), str(stop_file), str(reads_file)])
    try:
        time.sleep(1)
        yield reads
        time.sleep(1)
    finally:
        stop_file.touch()
        reader.wait(timeout=60)
    reads += [json.loads(line) for line in reads_file.read_text().splitlines()]


def killed_while_building(served: Path, raw_dir: Path, work_dir: Path) -> dict:
    """A publish with --wait started while this process holds the lock (it must wait and say so), then
    killed with SIGKILL once its dbt is building; what was seen, and what was left running."""
    building = served.parent / ".building" / served.name
    command, environment = typed_command(served, work_dir, raw_dir, extra=["--wait"])
    output, seen = work_dir.with_suffix(".out"), {}
    with reusing_a_saved_parse(work_dir / "target", served.name, "files"):
        with publish_lock(served), output.open("w") as output_file:
            # Its own session, so that every process it leaves behind is found by its process group.
            killed = subprocess.Popen(command, cwd=PROJECT_DIR / "models", env=environment, stdout=output_file,
                                      stderr=subprocess.STDOUT, start_new_session=True)
            wait_for(lambda: "waiting for another ltv publish" in output.read_text(), 30, "the waiting line")
            seen["output_while_locked"] = output.read_text()
            seen["running_while_locked"] = killed.poll() is None
        try:
            children, groups, seen["commands"] = processes_while_dbt_builds(killed, building)
        finally:
            killed.kill()
            killed.wait(timeout=30)
    try:
        assert_all_gone(children, groups)
        seen["left_running"] = None
    except AssertionError as error:
        seen["left_running"] = str(error)
    return seen


@pytest.fixture(scope="module")
def sequence(demo_published, tmp_path_factory) -> dict:
    """One served file through these publishes, what each printed, and what it left:

    0. the demo, published (a copy of the suite's shared publish of its demo build);
    1. `ltv publish --wait` while another publish holds the lock, killed once its dbt builds;
    2. `ltv publish` typed in models/ (a subdirectory) with LTV_RAW_DIR: the demo's CSV files plus a user
       and hostile reviews, over the demo without --fresh, while a BI client reads the served file; the
       served folder it left is kept as `after_files`;
    3. the state given what an ltv from before raw_files left: raw.users a view over a file, where the
       demo seed must go; then `ltv publish` of the demo again, without --fresh;
    and dbt's own compilation of the analyses over the state (the full warehouse), as their reference.
    The served file is named as the shared build was, so dbt reuses the suite's saved parses.
    """
    root = tmp_path_factory.mktemp("sequence")
    served = root / "served" / "warehouse.duckdb"
    state_path_for(served).parent.mkdir(parents=True)
    shutil.copy2(demo_published, served)
    shutil.copy2(state_path_for(demo_published), state_path_for(served))
    raw_dir = demo_files_with_a_new_user_and_hostile_reviews(root / "shop")
    steps = {"served": served, "raw_dir": raw_dir, "exports": root / "exports", "after_files": root / "after_files" / served.name,
             "files_target": root / "files" / "target"}
    steps["start_state"] = query(state_path_for(served), "select distinct source_kind from staging.base_shop__raw_tables")

    steps["killed"] = killed_while_building(served, raw_dir, root / "killed")

    stray = PROJECT_DIR / "models" / "warehouse"
    assert not stray.exists()
    with a_bi_client_reading(served, root) as steps["reads"]:
        steps["files"] = ltv_publish(served, root / "files", PROJECT_DIR / "models", raw_dir,
                                     extra=["--export-dir", str(steps["exports"])])
    steps["stray_folder"] = stray.exists()
    steps["left_building"] = sorted(path.name for path in (served.parent / ".building").iterdir())
    steps["lock_text"] = lock_path_for(served).read_text()
    shutil.copytree(served.parent, steps["after_files"].parent)

    connection = duckdb.connect(str(state_path_for(served)))
    connection.execute(f"drop table raw.users; create view raw.users as select * from read_csv('{raw_dir}/users.csv')")
    connection.close()
    steps["back"] = ltv_publish(served, root / "back", PROJECT_DIR)
    steps["compiled"] = run_dbt(["compile", "--select", "path:analyses"],
                                dbt_environment(state_path_for(served), root / "compile"))
    steps["compiled_dir"] = root / "compile" / "target" / "compiled" / "ltv" / "analyses"
    return steps


def assert_published(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "now serves the new build" in result.stdout


def served_users(path: Path) -> int:
    return query(path, "select count(*) from dim_users")[0][0]


# --------------------------------------------------------------------------------------------------
# BI reads through a publish; a failed build changes nothing

def test_readers_see_old_or_new_data_never_an_error_or_a_mix(sequence):
    assert_published(sequence["files"])
    reads = sequence["reads"]
    assert len(reads) > 20
    assert [read for read in reads if not read["ok"]] == []
    assert all(read["users"] == read["summarised"] for read in reads)
    seen = [read["fingerprint"] for read in reads]
    old, new = seen[0], seen[-1]
    assert old != new, "the second publish should serve different data"
    assert set(seen) == {old, new}
    switch = seen.index(new)
    assert all(fingerprint == new for fingerprint in seen[switch:]), "never back to the old data"
    # What the reader saw first and last is what the demo's and the files' publishes served.
    assert reads[0]["users"] == csv_rows(SEEDS_DIR / "users.csv")
    assert reads[-1]["users"] == csv_rows(sequence["raw_dir"] / "users.csv") == served_users(sequence["after_files"])


def test_a_failed_build_leaves_the_served_file_unchanged(sequence, tmp_path):
    shutil.copytree(sequence["after_files"].parent, tmp_path / "served")
    shutil.copytree(sequence["exports"], tmp_path / "exports")
    served, exports = tmp_path / "served" / sequence["after_files"].name, tmp_path / "exports"
    connection = duckdb.connect(str(served), read_only=True)
    try:
        for mart in ["dim_users", "fct_segment_summary", "fct_model_runs", "fct_user_recommendations"]:
            exported = connection.execute(f"select count(*) from read_parquet('{exports / mart}.parquet')").fetchall()
            assert exported == connection.execute(f"select count(*) from {mart}").fetchall(), mart
    finally:
        connection.close()
    before, state_before = file_digest(served), file_digest(state_path_for(served))
    exported_before = file_digest(exports / "dim_users.parquet")
    failed = publish(served, sequence["raw_dir"], tmp_path / "failed",
                     extra=["--vars", "{ltv_horizon_days: -5}", "--export-dir", str(exports)])
    assert failed.returncode != 0
    assert "the served warehouse was not changed" in failed.stderr
    assert file_digest(served) == before
    assert file_digest(state_path_for(served)) == state_before
    assert file_digest(exports / "dim_users.parquet") == exported_before
    assert list((served.parent / ".building").iterdir()) == []


# --------------------------------------------------------------------------------------------------
# The served file holds only what is public

def a_raw_comment_with_an_email() -> str:
    with (SEEDS_DIR / "reviews.csv").open(newline="") as reviews:
        return next(row["comment"] for row in csv.DictReader(reviews) if EMAIL.search(row["comment"] or ""))


def served_text_values(connection) -> list[str]:
    """Every non-null VARCHAR and JSON value of every relation in the served file."""
    columns = connection.execute(
        "select schema_name, table_name, column_name from duckdb_columns() "
        "where database_name = current_database() and data_type in ('VARCHAR', 'JSON')").fetchall()
    values = []
    for schema, table, column in columns:
        values += [row[0] for row in connection.execute(
            f'select "{column}"::varchar from "{schema}"."{table}" where "{column}" is not null').fetchall()]
    return values


def test_the_served_file_holds_only_the_public_relations_and_masked_quarantine_rows(sequence, monkeypatch):
    assert_published(sequence["files"])
    served = sequence["after_files"]
    monkeypatch.setenv("DBT_TARGET_PATH", str(sequence["files_target"]))
    public = public_models(PROJECT_DIR)
    assert "fct_user_value_predictions" in public

    connection = duckdb.connect(str(served), read_only=True)
    try:
        relations = connection.execute(
            "select table_schema, table_name, table_type from information_schema.tables "
            "where table_catalog = current_database()").fetchall()
        assert sorted(relations) == sorted(("main", name, "BASE TABLE") for name in [*public, "quarantine_rows"])
        undocumented = connection.execute(
            "select table_name from duckdb_tables() where database_name = current_database() "
            "and (comment is null or comment = '')").fetchall()
        assert undocumented == []
        assert connection.execute(
            "select count(comment) from duckdb_columns() where table_name = 'dim_users'").fetchall()[0][0] > 0
        texts = served_text_values(connection)
        quarantined = connection.execute(
            "select raw_row::varchar from quarantine_rows where source_table = 'reviews' "
            "and raw_key = 'R09999999'").fetchall()
    finally:
        connection.close()
    assert [text for text in texts if EMAIL.search(text)] == []
    assert [text for text in texts if any(leaked in text for leaked in LEAKED)] == []
    assert any("[IBAN]" in text for text in texts) and any("[CARD]" in text for text in texts)
    raw_comment = a_raw_comment_with_an_email()
    assert not any(raw_comment in text for text in texts)
    assert len(quarantined) == 1 and "[EMAIL]" in quarantined[0][0] and "[PHONE]" in quarantined[0][0]

    # The raw text is still in the private state, which later publishes build from.
    assert query(state_path_for(served), "select count(*) from information_schema.tables where table_schema = "
                                         "'staging' and table_name like 'stg_shop__%'")[0][0] > 0


def test_the_registry_history_carries_over_through_the_state_file(sequence):
    # The demo's build, the killed publish (which left nothing), then the files' publish and the demo's again.
    assert_published(sequence["files"])
    assert f"building from a copy of {state_path_for(sequence['served'].resolve())}" in sequence["files"].stdout
    invocations = "select count(distinct invocation_id) from fct_model_runs"
    assert query(sequence["after_files"], invocations) == [(2,)]
    assert_published(sequence["back"])
    assert query(sequence["served"], invocations) == [(3,)]


# --------------------------------------------------------------------------------------------------
# From any folder, after switching raw source

def test_publish_from_a_subdirectory_builds_and_leaves_no_stray_folder(sequence):
    assert_published(sequence["files"])
    assert sequence["stray_folder"] is False
    assert served_users(sequence["after_files"]) == csv_rows(sequence["raw_dir"] / "users.csv")


def test_demo_then_files_without_fresh(sequence):
    # Was: Catalog Error: Existing object "users" is of type Table, trying to replace with type View.
    assert sequence["start_state"] == [("demo",)]
    assert_published(sequence["files"])
    assert query(state_path_for(sequence["after_files"]),
                 "select distinct source_kind from staging.base_shop__raw_tables") == [("files",)]
    # The files are the demo's own CSVs and one more user: that user is served too.
    assert served_users(sequence["after_files"]) == csv_rows(SEEDS_DIR / "users.csv") + 1


def test_files_then_demo_without_fresh_even_over_an_older_file_view(sequence):
    # Was: Cannot seed to '"ltv"."raw"."users"', it is a view.
    assert_published(sequence["back"])
    assert "dropping raw.users, a view over a file" in sequence["back"].stdout
    state = state_path_for(sequence["served"])
    assert query(state, "select distinct source_kind from staging.base_shop__raw_tables") == [("demo",)]
    assert query(state, "select table_type, (select count(*) from raw.users) from information_schema.tables "
                        "where table_schema = 'raw' and table_name = 'users'") == [("BASE TABLE", csv_rows(SEEDS_DIR / "users.csv"))]
    assert served_users(sequence["served"]) == csv_rows(SEEDS_DIR / "users.csv")


def test_publish_ships_every_analysis_as_plain_sql_that_runs_on_the_served_file(sequence):
    served = sequence["served"]
    analyses = sorted(path.name for path in (PROJECT_DIR / "analyses").glob("*.sql"))
    shipped_dir = served.parent / "analyses"
    assert analyses and sorted(path.name for path in shipped_dir.glob("*.sql")) == analyses
    assert f"ltv publish: {len(analyses)} queries for BI tools (plain SQL): {shipped_dir}" in sequence["back"].stdout
    for name in analyses:
        shipped = (shipped_dir / name).read_text()
        assert "{{" not in shipped and "{%" not in shipped
        on_served = query(served, shipped)
        # The same rows as dbt's compilation of the analysis on the full warehouse it was served from.
        on_state = query(state_path_for(served), (sequence["compiled_dir"] / name).read_text())
        # Sorted: rows an ORDER BY leaves tied may come in either order.
        assert sorted(on_served, key=repr) == sorted(on_state, key=repr), name
        expect_rows = name != "quarantine_by_reason.sql" or query(served, "select count(*) from quarantine_rows")[0][0]
        assert bool(on_served) == bool(expect_rows), name


# --------------------------------------------------------------------------------------------------
# One publish at a time; no process of a publish outlives it

def test_a_waiting_publish_then_killed_leaves_no_process_and_the_next_publish_succeeds(sequence):
    killed, served = sequence["killed"], sequence["served"]
    assert killed["output_while_locked"].splitlines() == [
        f"ltv publish: waiting for another ltv publish (pid {os.getpid()}) to finish with {served}"]
    assert killed["running_while_locked"]
    assert any("bin/dbt build" in command for command in killed["commands"]), killed["commands"]
    assert killed["left_running"] is None
    # The next publish built from the state the killed one had copied, and left no building file or pid.
    assert_published(sequence["files"])
    assert sequence["left_building"] == [] and sequence["lock_text"] == ""


@pytest.mark.parametrize("existing, fresh, expected", [
    (("state", "old served"), False, "state"),
    (("old served",), False, "old served"),  # served before the state file existed: the upgrade path
    (("served",), False, None),  # a served file holds no warehouse to build on
    ((), False, None),
    (("state", "old served"), True, None),
])
def test_a_build_starts_from_the_state_then_an_old_served_file_unless_fresh(tmp_path, existing, fresh, expected):
    served = tmp_path / "ltv.duckdb"
    state = state_path_for(served)
    state.parent.mkdir()
    for name in existing:
        connection = duckdb.connect(str(state if name == "state" else served))
        # The full warehouse has base tables and staging views (in main before the staging schema,
        # as in a served file of that time); a served file only marts.
        if name == "served":
            connection.execute(f"create table dim_users as select '{name}' as origin")
        else:
            connection.execute(f"create table base_shop__users as select '{name}' as origin; "
                               "create view stg_shop__users as select * from base_shop__users")
        connection.close()
    build = tmp_path / "build.duckdb"
    _start_build_file(served, state, build, fresh)
    if expected is None:
        assert not build.exists()
        return
    connection = duckdb.connect(str(build), read_only=True)
    try:
        assert connection.execute("select origin from stg_shop__users").fetchall() == [(expected,)]
    finally:
        connection.close()


def test_a_second_publish_without_wait_exits_at_once_naming_the_holder(tmp_path):
    served = tmp_path / "served" / "ltv.duckdb"
    served.parent.mkdir()
    with publish_lock(served):  # this test process plays the running publish
        started = time.monotonic()
        second = publish(served, None, tmp_path / "second")
        seconds = time.monotonic() - started
    assert second.returncode == 1
    assert second.stderr.splitlines() == [
        f"ltv publish: another ltv publish (pid {os.getpid()}) is running for {served}; use --wait to wait for it"]
    assert second.stdout == ""
    assert seconds < 15, "it must not have waited for the lock or built anything"
    assert not served.exists()


def test_publish_where_its_folder_cannot_be_made_fails_in_one_line(tmp_path):
    regular_file = tmp_path / "a_file"
    regular_file.write_text("not a folder")
    result = publish(regular_file / "ltv.duckdb", None, tmp_path / "work")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.splitlines() == [
        f"ltv publish: cannot create the folder {regular_file / '.building'}: Not a directory"]


def test_a_publish_stopped_by_sigterm_says_so_in_one_line_and_leaves_nothing_behind(tmp_path):
    served = tmp_path / "served" / "ltv.duckdb"
    building = served.parent / ".building" / served.name
    command, environment = publish_command(served, None, tmp_path / "stopped")
    with reusing_a_saved_parse(tmp_path / "stopped" / "target", served.name, "demo"):
        stopped = subprocess.Popen(command, cwd=PROJECT_DIR, env=environment, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            children, groups, commands = processes_while_dbt_builds(stopped, building)
            stopped.send_signal(signal.SIGTERM)
            _, stderr = stopped.communicate(timeout=30)
        finally:
            stopped.kill()
    assert any("bin/dbt build" in command for command in commands), commands
    assert stopped.returncode == 128 + signal.SIGTERM
    assert "Traceback" not in stderr
    assert stderr.splitlines()[-1] == "ltv publish: stopped by SIGTERM"
    assert_all_gone(children, groups)
    assert list(building.parent.iterdir()) == [] and not served.exists()
    assert lock_path_for(served).read_text() == ""
