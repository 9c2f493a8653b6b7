"""Safe serving: BI keeps reading the served file while `ltv publish` rebuilds it, and a failed
build leaves the served file byte-for-byte as it was."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from conftest import PROJECT_DIR, dbt_environment

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


def publish(served: Path, raw_dir: Path, work_dir: Path, extra: list[str] | None = None) -> subprocess.CompletedProcess:
    environment = dbt_environment(served, work_dir, raw_dir)
    environment.pop("LTV_DUCKDB_PATH")
    command = [sys.executable, "-m", "ltv.cli", "publish", "--served", str(served), "--raw-dir", str(raw_dir),
               "--no-docs", *(extra or [])]
    return subprocess.run(command, cwd=PROJECT_DIR, env=environment, capture_output=True, text=True)


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_readers_see_old_or_new_data_never_an_error_or_a_mix(small_shop, tmp_path):
    from ltv.generate import generate_shop

    other_shop = tmp_path / "other_shop"
    generate_shop(300, other_shop, seed=99, file_format="parquet", n_items=100)
    served = tmp_path / "served" / "ltv.duckdb"
    first = publish(served, small_shop, tmp_path / "first")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]

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


def test_a_failed_build_leaves_the_served_file_unchanged(small_shop, tmp_path):
    served = tmp_path / "served" / "ltv.duckdb"
    exports = tmp_path / "exports"
    first = publish(served, small_shop, tmp_path / "first", extra=["--export-dir", str(exports)])
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    connection = duckdb.connect(str(served), read_only=True)
    try:
        for mart in ["dim_users", "fct_segment_summary", "fct_model_runs", "fct_user_recommendations"]:
            exported = connection.execute(f"select count(*) from read_parquet('{exports / mart}.parquet')").fetchall()
            assert exported == connection.execute(f"select count(*) from {mart}").fetchall(), mart
    finally:
        connection.close()
    before = file_digest(served)
    exported_before = file_digest(exports / "dim_users.parquet")
    failed = publish(served, small_shop, tmp_path / "failed",
                     extra=["--vars", "{ltv_horizon_days: -5}", "--export-dir", str(exports)])
    assert failed.returncode != 0
    assert "the served warehouse was not changed" in failed.stderr
    assert file_digest(served) == before
    assert file_digest(exports / "dim_users.parquet") == exported_before
    assert not (served.parent / ".building" / served.name).exists()
