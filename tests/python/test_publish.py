"""Safe serving: BI keeps reading the served file while `ltv publish` rebuilds it, a failed build
leaves the served file byte-for-byte as it was, the served file holds only what is public (the full
warehouse stays in the private state file), one publish runs at a time, and no process of a publish
outlives it."""

from __future__ import annotations

import contextlib
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
from conftest import PROJECT_DIR, dbt_environment, publish_built_warehouse, reusing_a_saved_parse

from ltv.publish import _start_build_file, lock_path_for, public_models, publish_lock, state_path_for

# A BI client: every half-tenth of a second it opens the served file read-only, reads two marts
# in one transaction and records what it saw. It writes one JSON line per query.
READER = r"""
import json, sys, time, duckdb
served, stop_file, out = sys.argv[1], sys.argv[2], sys.argv[3]
with open(out, "w") as log:
    while True:
        stop = __import__("os").path.exists(stop_file)
        try:
            connection = duckdb.connect(served, read_only=True)
            users, fingerprint = connection.execute(
                "select count(*), sum(hash(user_id)) from dim_users").fetchall()[0]
            summarised = connection.execute("select sum(users) from fct_segment_summary").fetchall()[0][0]
            connection.close()
            log.write(json.dumps({"ok": True, "users": users, "fingerprint": str(fingerprint),
                                  "summarised": summarised}) + "\n")
        except Exception as error:
            log.write(json.dumps({"ok": False, "error": repr(error)}) + "\n")
        log.flush()
        if stop:
            break
        time.sleep(0.05)
"""


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


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def published_small_shop(small_shop_warehouse, tmp_path_factory) -> tuple[Path, Path]:
    """`ltv publish`'s real path (swap, state, served file, exports) over the suite's shared build of
    the small shop: (served file, export folder). The tests that publish again over a served warehouse
    each start from a copy of it (copy_of_published) and run real publishes."""
    work = tmp_path_factory.mktemp("published")
    served, exports = work / "served" / "ltv.duckdb", work / "exports"
    publish_built_warehouse(small_shop_warehouse, served, export_dir=exports)
    return served, exports


def copy_of_published(published: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    """The published folder (served file, private state, lock) and the exports, copied into tmp_path."""
    served, exports = published
    shutil.copytree(served.parent, tmp_path / "served")
    shutil.copytree(exports, tmp_path / "exports")
    return tmp_path / "served" / served.name, tmp_path / "exports"


def test_readers_see_old_or_new_data_never_an_error_or_a_mix(published_small_shop, tmp_path):
    from ltv.generate import generate_shop

    other_shop = tmp_path / "other_shop"
    generate_shop(300, other_shop, seed=99, file_format="parquet", n_items=100)
    served, _ = copy_of_published(published_small_shop, tmp_path)

    stop_file, reads_file = tmp_path / "stop", tmp_path / "reads.jsonl"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(served), str(stop_file), str(reads_file)])
    try:
        time.sleep(1)
        second = publish(served, other_shop, tmp_path / "second", extra=["--fresh"])
        assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
        time.sleep(1)
    finally:
        stop_file.touch()
        reader.wait(timeout=60)

    reads = [json.loads(line) for line in reads_file.read_text().splitlines()]
    assert len(reads) > 20
    assert [read for read in reads if not read["ok"]] == []
    assert all(read["users"] == read["summarised"] for read in reads)
    seen = [read["fingerprint"] for read in reads]
    old, new = seen[0], seen[-1]
    assert old != new, "the second publish should serve different data"
    assert set(seen) == {old, new}
    switch = seen.index(new)
    assert all(fingerprint == new for fingerprint in seen[switch:]), "never back to the old data"


def test_a_failed_build_leaves_the_served_file_unchanged(small_shop, published_small_shop, tmp_path):
    served, exports = copy_of_published(published_small_shop, tmp_path)
    connection = duckdb.connect(str(served), read_only=True)
    try:
        for mart in ["dim_users", "fct_segment_summary", "fct_model_runs", "fct_user_recommendations"]:
            exported = connection.execute(f"select count(*) from read_parquet('{exports / mart}.parquet')").fetchall()
            assert exported == connection.execute(f"select count(*) from {mart}").fetchall(), mart
    finally:
        connection.close()
    before, state_before = file_digest(served), file_digest(state_path_for(served))
    exported_before = file_digest(exports / "dim_users.parquet")
    failed = publish(served, small_shop, tmp_path / "failed",
                     extra=["--vars", "{ltv_horizon_days: -5}", "--export-dir", str(exports)])
    assert failed.returncode != 0
    assert "the served warehouse was not changed" in failed.stderr
    assert file_digest(served) == before
    assert file_digest(state_path_for(served)) == state_before
    assert file_digest(exports / "dim_users.parquet") == exported_before
    assert list((served.parent / ".building").iterdir()) == []


# --------------------------------------------------------------------------------------------------
# The served file holds only what is public

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
QUARANTINED_EMAIL = "quarantined.buyer@example.org"


def demo_seeds_with_a_quarantined_review(folder: Path) -> Path:
    """The demo seeds as raw CSV files, plus a review with an impossible rating and an e-mail in its comment."""
    folder.mkdir()
    for seed in (PROJECT_DIR / "seeds").glob("*.csv"):
        shutil.copy2(seed, folder / seed.name)
    with (folder / "reviews.csv").open("a") as reviews:
        reviews.write(f'"R09999999","U0000007","I00171",9,"Wrong size, write to {QUARANTINED_EMAIL} '
                      f'or call +44 20 7946 0958","2025-06-03 07:23:54"\n')
        # Accepted reviews with the formats that once leaked into public tables (issue 16).
        for number, comment in enumerate(HOSTILE_COMMENTS):
            reviews.write(f'"R0999998{number}","U0000007","I00171",3,"{comment}","2025-06-0{number + 1} 10:00:00"\n')
    return folder


HOSTILE_COMMENTS = [
    "Call me on 138 0013 8000 or 13800138000 about the refund",
    "Pay it back to DE89370400440532013000 or GB29 NWBK 6016 1331 9268 19 please",
    "Card 4111.1111.1111.1111 was charged twice",
    "write to john at example dot com or john(at)example(dot)com",
]
LEAKED = ["138 0013 8000", "13800138000", "DE89370400440532013000", "GB29 NWBK", "4111.1111.1111.1111",
          "john at example", "john(at)example"]


def a_raw_comment_with_an_email() -> str:
    import csv

    with (PROJECT_DIR / "seeds" / "reviews.csv").open(newline="") as reviews:
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


def test_the_served_file_holds_only_the_public_relations_and_masked_quarantine_rows(tmp_path, monkeypatch):
    raw_dir = demo_seeds_with_a_quarantined_review(tmp_path / "raw")
    served = tmp_path / "served" / "ltv.duckdb"
    result = publish(served, raw_dir, tmp_path / "work")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "work" / "target"))
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
    state = duckdb.connect(str(state_path_for(served)), read_only=True)
    try:
        assert state.execute("select count(*) from information_schema.tables "
                             "where table_schema = 'staging' and table_name like 'stg_shop__%'").fetchall()[0][0] > 0
    finally:
        state.close()


def test_the_registry_history_carries_over_through_the_state_file(small_shop, published_small_shop, tmp_path):
    served, _ = copy_of_published(published_small_shop, tmp_path)  # the first publish
    result = publish(served, small_shop, tmp_path / "second")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"building from a copy of {state_path_for(served.resolve())}" in result.stdout
    connection = duckdb.connect(str(served), read_only=True)
    try:
        invocations = connection.execute("select count(distinct invocation_id) from fct_model_runs").fetchall()
    finally:
        connection.close()
    assert invocations[0][0] == 2


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


# --------------------------------------------------------------------------------------------------
# No process of a publish outlives it

def process_state(pid: int) -> tuple[str, int] | None:
    """(state letter, process group) of a live process; None once it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    state, _parent, group = stat[stat.rindex(")") + 2:].split()[:3]
    return None if state in "ZX" else (state, int(group))


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    for children_file in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in children_file.read_text().split():
            found |= {int(child)} | descendants(int(child))
    return found


def live_members(groups: set[int]) -> list[str]:
    """Every live process in one of `groups`, whoever its parent is now."""
    return [f"{entry.name}: {command_line(int(entry.name))}" for entry in Path("/proc").iterdir()
            if entry.name.isdigit() and (state := process_state(int(entry.name))) and state[1] in groups]


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return "(gone)"


def assert_all_gone(pids: set[int], groups: set[int], within_seconds: float = 5.0) -> None:
    deadline = time.monotonic() + within_seconds
    while time.monotonic() < deadline:
        if not any(process_state(pid) for pid in pids) and not live_members(groups):
            return
        time.sleep(0.1)
    raise AssertionError(f"still running: {[pid for pid in pids if process_state(pid)]} {live_members(groups)}")


def wait_for(condition, timeout_seconds: float, what: str) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def processes_while_dbt_builds(publish_process: subprocess.Popen, building: Path) -> tuple[set[int], set[int]]:
    """Once dbt is writing the building file: the publish's descendants and every process group of it."""
    wait_for(building.exists, 120, "dbt to start writing the building file")
    time.sleep(2)
    children = descendants(publish_process.pid)
    commands = [command_line(pid) for pid in children]
    assert any("bin/dbt build" in command for command in commands), commands
    groups = {publish_process.pid} | {state[1] for pid in children if (state := process_state(pid))}
    return children, groups


def test_a_waiting_publish_then_killed_leaves_no_process_and_the_next_publish_succeeds(tmp_path):
    served = tmp_path / "served" / "ltv.duckdb"
    served.parent.mkdir()
    building = served.parent / ".building" / served.name
    command, environment = publish_command(served, None, tmp_path / "killed", extra=["--wait"])
    output = tmp_path / "killed.out"
    with reusing_a_saved_parse(tmp_path / "killed" / "target", served.name, "demo"):
        with publish_lock(served), output.open("w") as output_file:
            # Its own session, so that every process it leaves behind is found by its process group.
            killed = subprocess.Popen(command, cwd=PROJECT_DIR, env=environment, stdout=output_file,
                                      stderr=subprocess.STDOUT, start_new_session=True)
            wait_for(lambda: "waiting for another ltv publish" in output.read_text(), 30, "the waiting line")
            assert output.read_text().splitlines() == [
                f"ltv publish: waiting for another ltv publish (pid {os.getpid()}) to finish with {served}"]
            assert killed.poll() is None
        try:
            children, groups = processes_while_dbt_builds(killed, building)
        finally:
            killed.kill()
            killed.wait(timeout=30)
    assert_all_gone(children, groups)

    after = publish(served, None, tmp_path / "after")
    assert after.returncode == 0, after.stdout[-3000:] + after.stderr[-3000:]
    assert served.exists() and not building.exists()
    assert lock_path_for(served).read_text() == ""


def test_a_publish_stopped_by_sigterm_says_so_in_one_line_and_leaves_nothing_behind(tmp_path):
    served = tmp_path / "served" / "ltv.duckdb"
    building = served.parent / ".building" / served.name
    command, environment = publish_command(served, None, tmp_path / "stopped")
    with reusing_a_saved_parse(tmp_path / "stopped" / "target", served.name, "demo"):
        stopped = subprocess.Popen(command, cwd=PROJECT_DIR, env=environment, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            children, groups = processes_while_dbt_builds(stopped, building)
            stopped.send_signal(signal.SIGTERM)
            _, stderr = stopped.communicate(timeout=30)
        finally:
            stopped.kill()
    assert stopped.returncode == 128 + signal.SIGTERM
    assert "Traceback" not in stderr
    assert stderr.splitlines()[-1] == "ltv publish: stopped by SIGTERM"
    assert_all_gone(children, groups)
    assert list(building.parent.iterdir()) == [] and not served.exists()
    assert lock_path_for(served).read_text() == ""


# A command that starts a grandchild which, like multiprocessing's resource tracker, ignores SIGTERM
# and SIGINT, then records both pids and lingers (or, with "exit", leaves its grandchild behind).
FAMILY = r"""
import os, signal, subprocess, sys, time
grandchild = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(120)"])
with open(sys.argv[1], "w") as pids:
    pids.write(f"{os.getpid()} {grandchild.pid}")
if sys.argv[2] != "exit":
    time.sleep(120)
"""

# The caller: what `ltv publish` does around dbt, with the SIGTERM handling of `ltv.cli`.
CALLER = r"""
import signal, sys
from pathlib import Path
from ltv.cli import _raise_terminated
from ltv.process_guard import run_guarded
signal.signal(signal.SIGTERM, _raise_terminated)
# A shell starts background jobs with SIGINT ignored and Python then keeps it ignored: restore the
# interactive default so the SIGINT case tests ltv, not how the test runner was started.
signal.signal(signal.SIGINT, signal.default_int_handler)
run_guarded([sys.executable, "-c", sys.argv[1], sys.argv[2], sys.argv[3]], cwd=Path("."), env=None,
            grace_seconds=0.5)
print("returned", flush=True)
"""


@pytest.mark.parametrize("ending", ["SIGKILL", "SIGTERM", "SIGINT", "exit"])
def test_a_guarded_command_and_its_children_die_with_the_caller(tmp_path, ending):
    pids_file, output = tmp_path / "pids", tmp_path / "output"
    # Output to a file, not a pipe: a process left behind would hold a pipe open and hang the test.
    with output.open("w") as output_file:
        caller = subprocess.Popen([sys.executable, "-c", CALLER, FAMILY, str(pids_file), ending],
                                  stdout=output_file, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: pids_file.exists() and " " in pids_file.read_text(), 30, "the command to start")
        family = {int(pid) for pid in pids_file.read_text().split()}
        groups = {state[1] for pid in family if (state := process_state(pid))}
        assert len(groups) == 1 and caller.pid not in groups, "the command runs in a group of its own"
        if ending != "exit":
            caller.send_signal(getattr(signal, ending))
        caller.wait(timeout=30)
        assert_all_gone(family, groups)
    finally:
        caller.kill()
        for group in groups:  # whatever a failed assertion left behind
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
    assert ("returned" in output.read_text()) == (ending == "exit"), output.read_text()
