"""`ltv publish`: build the warehouse into a separate file and swap it in only when the build passes.

DuckDB lets no other process open a file while `dbt build` writes it, so BI tools must never read
the file dbt writes. publish builds into <served folder>/.building/<name>, starting from a copy of
the served file (so the run registry's history and incremental tables carry over; --fresh starts
empty), runs `dbt build` there and, only when every model and test passed, checkpoints it and
moves it over the served file with os.replace — one atomic rename on the same filesystem. A reader
that opened the old file keeps reading the old file; the next connection sees the new one. A failed
build leaves the served file exactly as it was.

One publish at a time per served file: a publish holds an exclusive flock on <served>.publish.lock for
its whole run (the OS drops it when the holder dies, so a killed publish leaves no stale lock). dbt runs
under ltv.process_guard, so no dbt process outlives the publish that started it, however it ends.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from ltv.cli import existing_folder, find_project_dir, path_text
from ltv.process_guard import run_guarded
from ltv.served_file import write_served_file

DEFAULT_SERVED_PATH = "warehouse/ltv.duckdb"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--served", type=path_text, default=None,
                        help="the warehouse file BI reads (default: $LTV_DUCKDB_PATH or warehouse/ltv.duckdb, "
                             "both from the project folder, as dbt reads them)")
    parser.add_argument("--project-dir", type=existing_folder, default=None,
                        help="the ltv dbt project (default: the nearest folder upward from here with a dbt_project.yml)")
    parser.add_argument("--raw-dir", type=existing_folder, default=None,
                        help="folder with one <table>.parquet or <table>.csv per raw table (default: $LTV_RAW_DIR; "
                             "neither: the bundled demo, or with LTV_RAW_SOURCE=warehouse the tables in the "
                             "warehouse's raw schema)")
    parser.add_argument("--vars", type=dbt_vars_text, default=None,
                        help="dbt --vars, a YAML mapping, e.g. '{ltv_horizon_days: 90}' (vars are declared in "
                             "dbt_project.yml; an unknown ltv_* var stops the build)")
    parser.add_argument("--fresh", action="store_true",
                        help="build from an empty file instead of a copy of the private state (run history, "
                             "fitted models); not needed to switch raw source")
    parser.add_argument("--export-dir", type=path_text, default=None,
                        help="also write every public mart as <dir>/<model>.parquet after a green build")
    parser.add_argument("--no-docs", action="store_true", help="skip `dbt docs generate --static`")
    parser.add_argument("--wait", action="store_true",
                        help="if another publish is running for the same served file, wait for it "
                             "instead of exiting with status 1")


def run(args: argparse.Namespace) -> int:
    try:
        project_dir = find_project_dir(Path(args.project_dir) if args.project_dir else Path.cwd(),
                                       search_upward=args.project_dir is None)
        publish(
            served_path=served_path_for(args.served, project_dir),
            project_dir=project_dir,
            raw_dir=args.raw_dir or raw_dir_from_environment(),
            dbt_vars=args.vars,
            fresh=args.fresh,
            export_dir=Path(args.export_dir) if args.export_dir else None,
            generate_docs=not args.no_docs,
            wait=args.wait,
        )
    except PublishError as error:
        print(f"ltv publish: {error}", file=sys.stderr)
        return 1
    return 0


class PublishError(RuntimeError):
    """The build or its tests failed, or the publish could not start; the served warehouse was left unchanged."""


class PublishLocked(PublishError):
    """Another publish holds the lock of the same served file."""


def dbt_vars_text(text: str) -> str:
    """An argparse type: what dbt accepts as --vars (a YAML mapping), checked before anything is built."""
    import yaml

    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError as error:
        problem = str(error).splitlines()[0]
        raise argparse.ArgumentTypeError(f"is not YAML ({problem}): {text}") from None
    if not isinstance(parsed, dict):
        raise argparse.ArgumentTypeError(f"must be a YAML mapping such as '{{ltv_horizon_days: 90}}', got {text!r}")
    return text


def raw_dir_from_environment() -> str | None:
    raw_dir = os.environ.get("LTV_RAW_DIR", "")
    if raw_dir and not os.path.isdir(raw_dir):
        raise PublishError(f"LTV_RAW_DIR={raw_dir} is not a folder")
    return raw_dir or None


def served_path_for(served_argument: str | None, project_dir: Path) -> Path:
    """--served is taken from where the command was typed; $LTV_DUCKDB_PATH and the default from the
    project folder, where dbt (which chdirs there) reads them too."""
    if served_argument:
        return Path(served_argument).resolve()
    return project_dir / os.environ.get("LTV_DUCKDB_PATH", DEFAULT_SERVED_PATH)


def lock_path_for(served_path: Path) -> Path:
    return served_path.with_name(served_path.name + ".publish.lock")


@contextlib.contextmanager
def publish_lock(served_path: Path, wait: bool = False) -> Iterator[int]:
    """Hold the publish lock of `served_path`; yield its file descriptor.

    flock on an open descriptor rather than a file that exists or not: the lock belongs to the open
    file, so the OS releases it when every process holding it has died, SIGKILL included. The file is
    never deleted: a publish waiting on the old file while another created a new one would make two
    holders. It holds the holder's pid, for the message of the publish that finds it locked.
    """
    descriptor = os.open(lock_path_for(served_path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _take_lock(descriptor, served_path, wait)
        try:
            os.ftruncate(descriptor, 0)
            os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
            yield descriptor
        finally:
            os.ftruncate(descriptor, 0)  # while still ours: the pid of a finished publish names nobody
    finally:
        os.close(descriptor)


def _take_lock(descriptor: int, served_path: Path, wait: bool) -> None:
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        holder = _lock_holder(descriptor)
    if not wait:
        raise PublishLocked(f"another ltv publish (pid {holder}) is running for {served_path}; "
                            "use --wait to wait for it")
    print(f"ltv publish: waiting for another ltv publish (pid {holder}) to finish with {served_path}", flush=True)
    fcntl.flock(descriptor, fcntl.LOCK_EX)


def _lock_holder(descriptor: int) -> str:
    # The holder writes its pid just after taking the lock; give it a moment if we came in between.
    for _ in range(20):
        pid = os.pread(descriptor, 32, 0).decode(errors="replace").strip()
        if pid:
            return pid
        time.sleep(0.01)
    return "unknown"


def dbt_executable() -> str:
    # The dbt installed beside this Python, so a venv's ltv never picks up another dbt on PATH.
    beside_python = Path(sys.executable).with_name("dbt")
    return str(beside_python) if beside_python.exists() else (shutil.which("dbt") or "dbt")


# dbt runs in the folder of the file it builds, which it opens by name: the warehouse path is part of
# dbt's profile, and dbt reuses its saved parse (target/partial_parse.msgpack) only for the same
# profile, so every publish into a file of the same name (ltv.duckdb by default) parses only what
# changed, wherever the file lives. dbt finds the project from DBT_PROJECT_DIR, and the DBT_* paths a
# user set relative to the project folder are made absolute (dbt no longer starts there).
PROJECT_RELATIVE_PATHS = ("DBT_PROFILES_DIR", "DBT_TARGET_PATH", "DBT_LOG_PATH")


def dbt_environment(warehouse_path: Path, raw_dir: str | None, project_dir: Path = Path(".")) -> dict:
    environment = dict(os.environ)
    project_dir = project_dir.resolve()
    environment["LTV_DUCKDB_PATH"] = warehouse_path.name
    environment["DBT_PROJECT_DIR"] = str(project_dir)
    environment.setdefault("DBT_PROFILES_DIR", str(project_dir / "profiles"))
    for name in PROJECT_RELATIVE_PATHS:
        if environment.get(name):
            environment[name] = str(project_dir / environment[name])  # (an absolute path stays as it is)
    if raw_dir:
        # Views over the raw files store the path; an absolute one works from any folder.
        environment["LTV_RAW_DIR"] = str(Path(raw_dir).resolve())
    else:
        environment.pop("LTV_RAW_DIR", None)
    return environment


def run_dbt(arguments: list[str], build_folder: Path, environment: dict, keep_fds: tuple[int, ...] = ()) -> None:
    """dbt `arguments` in `build_folder` (see dbt_environment)."""
    command = [dbt_executable(), *arguments]
    started = time.monotonic()
    print(f"ltv publish: dbt {' '.join(arguments)}", flush=True)
    exit_code = run_guarded(command, cwd=build_folder, env=environment, keep_fds=keep_fds)
    print(f"ltv publish: dbt {arguments[0]} finished in {time.monotonic() - started:.1f} s "
          f"(exit code {exit_code})", flush=True)
    if exit_code != 0:
        raise PublishError(f"`dbt {' '.join(arguments)}` failed (exit code {exit_code}); "
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
            generate_docs: bool = True, wait: bool = False) -> Path:
    """Build into a side file and, if everything passed, atomically replace the state and served files.

    Holds the publish lock of `served_path` throughout; raises PublishLocked at once if another
    publish holds it, unless `wait`.
    """
    served_path = served_path.resolve()
    build_path = served_path.parent / ".building" / served_path.name
    served_build_path = build_path.with_name(build_path.name + ".served")
    state_path = state_path_for(served_path)
    _make_folder(build_path.parent)
    _make_folder(state_path.parent)
    with publish_lock(served_path, wait=wait) as lock_descriptor:
        _remove_build_files(build_path, served_build_path)
        _start_build_file(served_path, state_path, build_path, fresh)
        try:
            _build(build_path, project_dir, raw_dir, dbt_vars, generate_docs, lock_descriptor)
            _finish(build_path, served_build_path, project_dir, export_dir)
        except BaseException:
            _remove_build_files(build_path, served_build_path)
            raise
        # State first: if the publish dies between the two renames, the served file lags one build
        # behind the state, never ahead of it (the next publish rewrites it from the state).
        os.replace(build_path, state_path)
        os.replace(served_build_path, served_path)
        print(f"ltv publish: {served_path} now serves the new build", flush=True)
        _write_report(served_path)
        if generate_docs:
            _copy_docs_page(project_dir, served_path.with_name("ltv_docs.html"))
        _write_analyses(project_dir, served_path)
    return served_path


def state_path_for(served_path: Path) -> Path:
    """The private full warehouse behind `served_path`: raw texts included, never for BI."""
    return served_path.parent / ".state" / served_path.name


def _make_folder(folder: Path) -> None:
    # Said in one line, because `--served` pointing below a regular file or into a read-only place is
    # a mistake in the command line, not a bug.
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PublishError(f"cannot create the folder {folder}: {error.strerror}") from None


def _start_build_file(served_path: Path, state_path: Path, build_path: Path, fresh: bool) -> None:
    if fresh:
        print(f"ltv publish: building a fresh warehouse for {served_path}", flush=True)
        return
    if state_path.exists():
        shutil.copy2(state_path, build_path)
        print(f"ltv publish: building from a copy of {state_path}", flush=True)
        return
    # No state yet but a served file: if it was published before the split it still holds everything,
    # and building from it keeps its history (the next served file holds only what is public). A served
    # file of the new kind (the state was deleted) is no warehouse to build on.
    if served_path.exists():
        shutil.copy2(served_path, build_path)
        if _holds_the_full_warehouse(build_path):
            print(f"ltv publish: building from a copy of {served_path}", flush=True)
            return
        _remove_build_files(build_path)
    print(f"ltv publish: building a fresh warehouse for {served_path}", flush=True)


def _holds_the_full_warehouse(path: Path) -> bool:
    import duckdb

    try:
        connection = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return False
    try:
        # The base tables and staging views (raw texts, unmasked) are in a full warehouse only: in main
        # if an ltv from before the staging schema built it, in staging since. stg_ relations are views.
        staging = connection.execute(
            "select count(*) from (select table_name as name from duckdb_tables() union all "
            "select view_name from duckdb_views() where not internal) "
            "where name like 'stg\\_%' escape '\\' or name like 'base\\_%' escape '\\'")
        return staging.fetchall()[0][0] > 0
    finally:
        connection.close()


def _remove_build_files(*paths: Path) -> None:
    # Leftovers of a publish that was killed, or of this one failing: under the lock, nothing else
    # is writing them.
    for path in paths:
        for file in (path, path.with_name(path.name + ".wal")):
            file.unlink(missing_ok=True)


def _build(build_path: Path, project_dir: Path, raw_dir: str | None, dbt_vars: str | None,
           generate_docs: bool, lock_descriptor: int) -> None:
    """dbt build (+ docs) into `build_path`; raise PublishError on failure."""
    environment = dbt_environment(build_path, raw_dir, project_dir)
    vars_arguments = ["--vars", dbt_vars] if dbt_vars else []
    # dbt keeps the lock open too: the next publish starts only when no process of this one is left.
    keep = (lock_descriptor,)
    run_dbt(["build", *vars_arguments], build_path.parent, environment, keep_fds=keep)
    if generate_docs:
        run_dbt(["docs", "generate", "--static", *vars_arguments], build_path.parent, environment, keep_fds=keep)


def _finish(build_path: Path, served_build_path: Path, project_dir: Path, export_dir: Path | None) -> None:
    """Checkpoint the green build, write the served file from it, export Parquet from the served file."""
    import duckdb

    try:
        checkpoint(build_path)
        relation_names = public_models(project_dir)
        write_served_file(build_path, served_build_path, relation_names)
        if export_dir is not None:
            export_parquet(served_build_path, relation_names, export_dir.resolve())
    except duckdb.Error as error:
        raise PublishError(f"the build passed but could not be finished ({error}); "
                           "the served warehouse was not changed") from None


def _write_report(served_path: Path) -> None:
    from ltv.report import REPORT_FILE_NAME
    from ltv.report.render import write_report

    try:
        report_path = write_report(served_path, served_path.with_name(REPORT_FILE_NAME))
    except Exception as error:
        raise PublishError(f"{served_path} was published, but its report could not be written: "
                           f"{type(error).__name__}: {error}") from error
    print(f"ltv publish: report: {report_path}", flush=True)


def _write_analyses(project_dir: Path, served_path: Path) -> None:
    """The analyses as plain SQL for the new served file. After the swap, and never failing the publish:
    the build passed; an analysis that no longer runs is named, and left out."""
    from ltv.analyses import write_analyses

    out_dir = served_path.parent / "analyses"
    written, failures = write_analyses(project_dir, served_path, out_dir)
    print(f"ltv publish: {len(written)} queries for BI tools (plain SQL): {out_dir}", flush=True)
    for failure in failures:
        print(f"ltv publish: warning: {failure}", flush=True)


def _copy_docs_page(project_dir: Path, destination: Path) -> None:
    docs_page = project_dir / Path(os.environ.get("DBT_TARGET_PATH", "target")) / "static_index.html"
    if docs_page.exists():
        shutil.copy2(docs_page, destination)
        print(f"ltv publish: lineage and documentation page: {destination}", flush=True)
