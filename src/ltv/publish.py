"""`ltv publish`: build the warehouse into a separate file and swap it in only when the build passes.

DuckDB lets no other process open a file while `dbt build` writes it, so BI tools must never read
the file dbt writes. publish builds into <served folder>/.building/<name>, starting from a copy of
the served file (so the run registry's history and incremental tables carry over; --fresh starts
empty), runs `dbt build` there and, only when every model and test passed, checkpoints it and
moves it over the served file with os.replace — one atomic rename on the same filesystem. A reader
that opened the old file keeps reading the old file; the next connection sees the new one. A failed
build leaves the served file exactly as it was.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_SERVED_PATH = "warehouse/ltv.duckdb"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--served", default=os.environ.get("LTV_DUCKDB_PATH", DEFAULT_SERVED_PATH),
                        help="the warehouse file BI reads (default: $LTV_DUCKDB_PATH or warehouse/ltv.duckdb)")
    parser.add_argument("--project-dir", default=".", help="the ltv dbt project (default: current folder)")
    parser.add_argument("--raw-dir", default=os.environ.get("LTV_RAW_DIR", ""),
                        help="folder of raw Parquet/CSV files (default: $LTV_RAW_DIR; empty = bundled demo)")
    parser.add_argument("--vars", default=None, help="dbt --vars, e.g. '{ltv_horizon_days: 90}'")
    parser.add_argument("--fresh", action="store_true",
                        help="build from an empty file instead of a copy of the served one")
    parser.add_argument("--export-dir", default=None,
                        help="also write every public mart as <dir>/<model>.parquet after a green build")
    parser.add_argument("--no-docs", action="store_true", help="skip `dbt docs generate --static`")


def run(args: argparse.Namespace) -> int:
    try:
        publish(
            served_path=Path(args.served),
            project_dir=Path(args.project_dir),
            raw_dir=args.raw_dir or None,
            dbt_vars=args.vars,
            fresh=args.fresh,
            export_dir=Path(args.export_dir) if args.export_dir else None,
            generate_docs=not args.no_docs,
        )
    except PublishError as error:
        print(f"ltv publish: {error}", file=sys.stderr)
        return 1
    return 0


class PublishError(RuntimeError):
    """The build or its tests failed; the served warehouse was left unchanged."""


def dbt_executable() -> str:
    # The dbt installed beside this Python, so a venv's ltv never picks up another dbt on PATH.
    beside_python = Path(sys.executable).with_name("dbt")
    return str(beside_python) if beside_python.exists() else (shutil.which("dbt") or "dbt")


def dbt_environment(warehouse_path: Path, raw_dir: str | None) -> dict:
    environment = dict(os.environ)
    environment["LTV_DUCKDB_PATH"] = str(warehouse_path.resolve())
    environment.setdefault("DBT_PROFILES_DIR", "profiles")
    if raw_dir:
        # Views over the raw files store the path; an absolute one works from any folder.
        environment["LTV_RAW_DIR"] = str(Path(raw_dir).resolve())
    else:
        environment.pop("LTV_RAW_DIR", None)
    return environment


def run_dbt(arguments: list[str], project_dir: Path, environment: dict) -> None:
    command = [dbt_executable(), *arguments]
    started = time.monotonic()
    print(f"ltv publish: dbt {' '.join(arguments)}", flush=True)
    result = subprocess.run(command, cwd=project_dir, env=environment)
    print(f"ltv publish: dbt {arguments[0]} finished in {time.monotonic() - started:.1f} s "
          f"(exit code {result.returncode})", flush=True)
    if result.returncode != 0:
        raise PublishError(f"`dbt {' '.join(arguments)}` failed (exit code {result.returncode}); "
                           "the served warehouse was not changed")


def checkpoint(warehouse_path: Path) -> None:
    """Fold the write-ahead log into the file, so that the one file moved holds everything."""
    import duckdb

    connection = duckdb.connect(str(warehouse_path))
    try:
        connection.execute("checkpoint").fetchall()
    finally:
        connection.close()


def public_models(project_dir: Path) -> list[str]:
    """Relation names of the public models, from the manifest of the build that just ran."""
    target_path = Path(os.environ.get("DBT_TARGET_PATH", "target"))
    manifest = json.loads((project_dir / target_path / "manifest.json").read_text())
    names = []
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model" and node.get("access") == "public":
            names.append(node.get("alias") or node["name"])
            if node.get("version") is not None and str(node.get("version")) == str(node.get("latest_version")):
                names.append(node["name"])  # the unsuffixed view on the latest version
    return sorted(set(names))


def export_parquet(warehouse_path: Path, relation_names: list[str], export_dir: Path) -> None:
    """Write each public mart to <export_dir>/<name>.parquet, swapping the whole folder at once."""
    import duckdb

    staging_dir = export_dir.with_name(export_dir.name + ".building")
    shutil.rmtree(staging_dir, ignore_errors=True)
    staging_dir.mkdir(parents=True)
    connection = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        for name in relation_names:
            target = (staging_dir / f"{name}.parquet").resolve()
            connection.execute(f"copy (select * from main.{name}) to '{target}' (format parquet)").fetchall()
    finally:
        connection.close()
    previous_dir = export_dir.with_name(export_dir.name + ".previous")
    shutil.rmtree(previous_dir, ignore_errors=True)
    if export_dir.exists():
        os.replace(export_dir, previous_dir)
    os.replace(staging_dir, export_dir)
    shutil.rmtree(previous_dir, ignore_errors=True)


def publish(served_path: Path, project_dir: Path = Path("."), raw_dir: str | None = None,
            dbt_vars: str | None = None, fresh: bool = False, export_dir: Path | None = None,
            generate_docs: bool = True) -> Path:
    """Build into a side file and atomically replace `served_path` with it if everything passed."""
    served_path = served_path.resolve()
    build_dir = served_path.parent / ".building"
    build_path = build_dir / served_path.name
    build_dir.mkdir(parents=True, exist_ok=True)
    for leftover in (build_path, build_path.with_name(build_path.name + ".wal")):
        leftover.unlink(missing_ok=True)
    if served_path.exists() and not fresh:
        shutil.copy2(served_path, build_path)
        print(f"ltv publish: building from a copy of {served_path}", flush=True)
    else:
        print(f"ltv publish: building a fresh warehouse for {served_path}", flush=True)

    environment = dbt_environment(build_path, raw_dir)
    vars_arguments = ["--vars", dbt_vars] if dbt_vars else []
    try:
        run_dbt(["build", *vars_arguments], project_dir, environment)
        if generate_docs:
            run_dbt(["docs", "generate", "--static", *vars_arguments], project_dir, environment)
        checkpoint(build_path)
        if export_dir is not None:
            export_parquet(build_path, public_models(project_dir), export_dir.resolve())
    except BaseException:
        build_path.unlink(missing_ok=True)
        raise
    os.replace(build_path, served_path)
    print(f"ltv publish: {served_path} now serves the new build", flush=True)
    if generate_docs:
        docs_page = project_dir / Path(os.environ.get("DBT_TARGET_PATH", "target")) / "static_index.html"
        if docs_page.exists():
            shutil.copy2(docs_page, served_path.with_name("ltv_docs.html"))
            print(f"ltv publish: lineage and documentation page: {served_path.with_name('ltv_docs.html')}", flush=True)
    return served_path
