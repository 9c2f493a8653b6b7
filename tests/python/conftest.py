"""Shared fixtures: run dbt against throw-away warehouse files, never the served one."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import pytest

# The Python processes the tests start (dbt runs, `ltv publish`, Spark's Python workers) write and reuse
# bytecode caches, even where the environment says not to write them (this sandbox sets
# PYTHONDONTWRITEBYTECODE=1, and .ci/run installs with --no-compile): without them every such process
# compiles dbt, scikit-learn, SciPy, pandas and pyspark from source again, 6.2 instead of 2.5 CPU-s
# to import them (measured 2026-12-07), and the suite starts dozens of them.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False

PROJECT_DIR = Path(__file__).resolve().parents[2]
SEEDS_DIR = PROJECT_DIR / "seeds"
# Where a build puts its models (dbt_project.yml): main holds only the public relations, each family of
# internals (by name prefix) a schema of its own.
PUBLIC_SCHEMA = "main"
INTERNAL_SCHEMAS = {"base_": "staging", "stg_": "staging", "int_": "intermediate", "ml_": "ml"}
MODEL_SCHEMAS = (PUBLIC_SCHEMA, *dict.fromkeys(INTERNAL_SCHEMAS.values()))
MODEL_SCHEMAS_SQL = "(" + ", ".join(f"'{schema}'" for schema in MODEL_SCHEMAS) + ")"


# Test files by their measured time, longest first (a CI run of 2026-12-07). xdist runs with
# --no-loadscope-reorder, so it hands files to its workers in this order and the short files fill in at
# the end; by default it orders files by their number of tests, which put the few-test files that build
# the most warehouses last and left one worker alone for minutes. A file not listed comes after these.
LONGEST_FILES_FIRST = [
    # First: its session fixture makes the Spark builds (~5 minutes) that the other test_spark_* files
    # read; the other worker runs the DuckDB files meanwhile.
    "test_spark_parity.py",
    "test_publish.py", "test_shapes_build.py", "test_real_shop_input.py", "test_determinism_and_incremental.py",
    # The longest files that read the Spark builds: handed out once those are made (~5 minutes in), not
    # left for the end where a minute of them would keep one worker alone.
    "test_spark_content_similarity.py", "test_spark_recommendations.py",
    "test_bench.py", "test_dbt_defaults.py", "test_append_only_rebuild.py", "test_user_value_targets.py",
    # A Spark Connect server of its own (the other Spark files read the shared build).
    "test_spark_connect.py",
    "test_bad_input.py", "test_dirty_data.py", "test_sentiment_upgrade.py",
    "test_user_value_v4_serves_v3.py", "test_report.py", "test_recommendations_v3_build.py", "test_multilingual_sentiment.py", "test_model_comparison.py",
    "test_readable_tables.py", "test_user_value_tuning.py", "test_user_value_choice.py",
    "test_raw_source_switch.py", "test_demo_build.py", "test_sentiment.py",
]


def pytest_collection_modifyitems(items):
    rank = {name: position for position, name in enumerate(LONGEST_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: tests keep their order in a file


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """With LTV_TEST_CPU_LOG=<file>, append each test's CPU seconds (its worker's own and the dbt or ltv
    processes it waited for, setup and teardown included) as a JSON line: on a shared machine wall
    times say little about which tests cost the suite its time."""
    log_path = os.environ.get("LTV_TEST_CPU_LOG")
    if not log_path:
        yield
        return
    import json
    import resource
    import time

    def cpu_seconds(who):
        usage = resource.getrusage(who)
        return usage.ru_utime + usage.ru_stime

    before = (cpu_seconds(resource.RUSAGE_SELF), cpu_seconds(resource.RUSAGE_CHILDREN), time.monotonic())
    yield
    after = (cpu_seconds(resource.RUSAGE_SELF), cpu_seconds(resource.RUSAGE_CHILDREN), time.monotonic())
    with open(log_path, "a") as log:
        log.write(json.dumps({"test": item.nodeid, "self_cpu": round(after[0] - before[0], 2),
                              "children_cpu": round(after[1] - before[1], 2),
                              "wall": round(after[2] - before[2], 2)}) + "\n")


def dbt_executable() -> str:
    return str(Path(sys.executable).with_name("dbt"))


def dbt_environment(warehouse_path: Path, work_dir: Path, raw_dir: Path | None = None) -> dict:
    """Environment for one dbt invocation: its own warehouse, target and log folders, so tests
    never touch warehouse/ltv.duckdb and parallel invocations do not share target/."""
    environment = dict(os.environ)
    environment.update({
        "LTV_TARGET": "ci",
        "LTV_DUCKDB_PATH": str(warehouse_path),
        "DBT_PROFILES_DIR": str(PROJECT_DIR / "profiles"),
        "DBT_TARGET_PATH": str(work_dir / "target"),
        "DBT_LOG_PATH": str(work_dir / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    })
    environment.pop("LTV_RAW_DIR", None)
    environment.pop("LTV_RAW_SOURCE", None)
    if raw_dir is not None:
        environment["LTV_RAW_DIR"] = str(raw_dir)
    return environment


# dbt's full parse of this project takes about 10 s; its partial parse of an unchanged project about
# 3 s. dbt reuses a saved parse (target/partial_parse.msgpack) only when the profile is the same, and
# the warehouse path is part of the profile: so dbt runs in the warehouse's folder with a relative path
# (the same profile for every test; `ltv publish` does the same), and each new target folder starts
# from a parse saved by an earlier run with the same warehouse file name and kind of raw data (demo,
# files or warehouse). dbt itself checks the saved parse against the project files, vars and env vars,
# and parses again only what they change: another LTV_RAW_DIR re-parses the few files that read it
# (dbt_project.yml reads no raw-data variable, since any change to an env var read there makes dbt
# parse everything).
def _parse_cache_file(warehouse_name: str, raw_data: str) -> Path:
    import hashlib

    key = f"warehouse={warehouse_name}|raw={raw_data}"  # (every test builds the ci target)
    # One folder per test run, shared by its xdist workers (they have the same run id).
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID") or str(os.getpid())
    folder = Path(tempfile.gettempdir()) / f"ltv-test-parses-{run_id}"
    folder.mkdir(exist_ok=True)
    return folder / (hashlib.sha256(key.encode()).hexdigest()[:16] + ".msgpack")


@contextlib.contextmanager
def reusing_a_saved_parse(target_path: Path, warehouse_name: str, raw_data: str):
    """Around a dbt run (or an `ltv publish`) whose target folder is `target_path`: start from a saved
    parse if the target folder has none, and save the run's parse for later runs if none is saved."""
    saved_parse = Path(target_path) / "partial_parse.msgpack"
    cached_parse = _parse_cache_file(warehouse_name, raw_data)
    if not saved_parse.exists() and cached_parse.exists():
        saved_parse.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cached_parse, saved_parse)
    yield
    if saved_parse.exists() and not cached_parse.exists():
        partial = cached_parse.with_suffix(f".{os.getpid()}.partial")
        shutil.copyfile(saved_parse, partial)
        partial.replace(cached_parse)


def raw_data_kind(environment: dict) -> str:
    return "files" if environment.get("LTV_RAW_DIR") else environment.get("LTV_RAW_SOURCE", "demo")


# Starting dbt costs about 3 CPU-s of imports (its own, then scikit-learn, SciPy and the rest for the
# Python models), a third of a run that fails early and a tenth of a small shop's build: so the tests'
# dbt runs go through dbtRunner in the test's own process (the xdist worker), which imports all that
# once. A worker runs one test at a time, so the environment and folder a run needs can be set for it.
# The machine's zone (TZ) is one of them: DuckDB takes its TimeZone from TZ for each new database (and
# dbt-duckdb's is closed after every run), and time.tzset() makes Python's local time follow TZ too.
# Everything runs in a process of its own with LTV_TEST_DBT_SUBPROCESS=1 (to compare).
_PROCESS_LEVEL_VARIABLES = ()


def _runs_in_this_process(environment: dict) -> bool:
    return not os.environ.get("LTV_TEST_DBT_SUBPROCESS") and all(
        environment.get(name) == os.environ.get(name) for name in _PROCESS_LEVEL_VARIABLES)


def _dbt_in_this_process(arguments: list[str], environment: dict, cwd: Path) -> subprocess.CompletedProcess:
    """`dbt <arguments>` as dbtRunner, with the environment and working folder of a dbt process of its
    own, its console output captured, and the exit code dbt's command line gives (0 success, 1 a node
    failed, 2 dbt stopped)."""
    import io
    import time

    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.cli.main import dbtRunner
    from dbt_common.events.functions import capture_stdout_logs, stop_capture_stdout_logs

    saved_environment, saved_folder = dict(os.environ), os.getcwd()
    output = io.StringIO()
    os.environ.clear()
    os.environ.update(environment)
    time.tzset()
    os.chdir(cwd)
    capture_stdout_logs(output)
    try:
        outcome = dbtRunner().invoke(arguments)
    finally:
        stop_capture_stdout_logs()
        # dbt-duckdb keeps its DuckDB database open in a class attribute between invocations: closed
        # here, as the end of a dbt process would, so the test can open the file (read-only) itself.
        with DuckDBConnectionManager._LOCK:
            if DuckDBConnectionManager._ENV is not None:
                DuckDBConnectionManager._ENV.close()
                DuckDBConnectionManager._ENV = None
        os.chdir(saved_folder)
        os.environ.clear()
        os.environ.update(saved_environment)
        time.tzset()
    returncode = 0 if outcome.success else (2 if outcome.exception is not None else 1)
    return subprocess.CompletedProcess(["dbt", *arguments], returncode, output.getvalue(), "")


def _cpu_and_wall() -> tuple[float, float]:
    import resource
    import time

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime, time.monotonic()


def _log_dbt_run(arguments: list[str], environment: dict, started: tuple[float, float]) -> None:
    """With LTV_TEST_DBT_LOG=<file>, append each dbt run of the tests (the test, its arguments, the raw
    data it read, CPU and wall seconds) as a JSON line: which builds the suite pays for, and how much."""
    log_path = os.environ.get("LTV_TEST_DBT_LOG")
    if not log_path:
        return
    import json

    cpu, wall = (now - then for now, then in zip(_cpu_and_wall(), started, strict=True))
    with open(log_path, "a") as log:
        log.write(json.dumps({"test": os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0],
                              "arguments": arguments, "raw": raw_data_kind(environment),
                              "cpu": round(cpu, 2), "wall": round(wall, 2)}) + "\n")


def run_dbt(arguments: list[str], environment: dict, check: bool = True) -> subprocess.CompletedProcess:
    environment = dict(environment)
    warehouse_path = Path(environment["LTV_DUCKDB_PATH"])
    environment["LTV_DUCKDB_PATH"] = warehouse_path.name
    environment["DBT_PROJECT_DIR"] = str(PROJECT_DIR)
    warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    # --vars changes make dbt parse everything again: a parse is saved per set of vars too.
    variables = arguments[arguments.index("--vars") + 1] if "--vars" in arguments else ""
    parse_kind = raw_data_kind(environment) + (f"|vars={variables}" if variables else "")
    started = _cpu_and_wall()
    with reusing_a_saved_parse(environment["DBT_TARGET_PATH"], warehouse_path.name, parse_kind):
        if _runs_in_this_process(environment):
            result = _dbt_in_this_process(arguments, environment, warehouse_path.parent)
        else:
            result = subprocess.run([dbt_executable(), *arguments], cwd=warehouse_path.parent, env=environment,
                                    capture_output=True, text=True)
    _log_dbt_run(arguments, environment, started)
    if check and result.returncode != 0:
        raise AssertionError(f"dbt {' '.join(arguments)} failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}")
    return result


# For runs whose manifest.json and run_results.json nobody reads (tests that read the warehouse, the
# compiled SQL or the log): dbt writes both at the end of every run, about 0.5 CPU-s for this project.
NO_RUN_ARTIFACTS = ["--no-write-json"]


def build_warehouse(work_dir: Path, raw_dir: Path | None = None, extra_arguments: list[str] | None = None,
                    check: bool = True) -> tuple[Path, subprocess.CompletedProcess]:
    work_dir.mkdir(parents=True, exist_ok=True)
    warehouse_path = work_dir / "warehouse.duckdb"
    environment = dbt_environment(warehouse_path, work_dir, raw_dir)
    result = run_dbt(["build", *(extra_arguments or [])], environment, check=check)
    return warehouse_path, result


def requires_spark() -> None:
    """Skips the calling test file without the spark extra (pip install -e '.[spark]') or a Java to run
    it on; in CI (CI set), which installs both, fails instead: a Spark test must not vanish there."""
    import importlib.util

    missing = ("the spark extra (pip install -e '.[spark]')" if importlib.util.find_spec("pyspark") is None
               else "java (Spark runs on Java 17)" if shutil.which("java") is None else None)
    if missing is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{missing} is not installed: .ci/run installs it", pytrace=False)
    pytest.skip(f"{missing} is not installed", allow_module_level=True)


# Options of the JVMs of the tests' Spark builds (through LTV_SPARK_JVM_OPTIONS). A build on local Spark
# is hundreds of short statements, each with classes of its own that run a few times: HotSpot's
# optimising compiler (C2) spent 45% of the JVM's CPU of the demo's Spark build compiling them (CPU by
# JVM thread from /proc). Raising its thresholds tenfold leaves it the code that really runs hot; a
# larger code cache stops the sweeper evicting and recompiling. The demo's Spark build alone,
# 2026-12-07, quiet machine: 257 -> 194 machine CPU-s, 150 -> 134 s (JVM CPU 226 -> 148 s). Compiling
# only with C1 (TieredStopAtLevel=1) was worse there: slower code and a busy code-cache sweeper (285
# CPU-s, 188 s).
SPARK_TEST_JVM_OPTIONS = ("-XX:Tier4InvocationThreshold=100000 -XX:Tier4MinInvocationThreshold=50000 "
                          "-XX:Tier4CompileThreshold=120000 -XX:Tier4BackEdgeThreshold=1000000 "
                          "-XX:ReservedCodeCacheSize=512m")
# Options of the other JVMs the tests start: the test files' own sessions, the sessions that read a
# finished build, the Connect server. They run a few seconds of tiny frames each, where compiling is
# most of the JVM's work even with C2's thresholds raised (a warm call of Spark's content similarity
# on 40 items: 37% of the JVM's CPU in the compiler threads), so only C1 compiles there: the Spark
# test files without a build, 2026-12-07, quiet machine, one process: 94.8 -> 75.4 and 139 -> 118
# machine CPU-s (content similarity, recommendations, user value; the demo's DuckDB build included).
SPARK_SESSION_JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=512m"


def spark_environment(work_dir: Path) -> dict:
    """Environment of dbt runs on the `spark` target (spark_demo): their own Spark warehouse and embedded
    metastore under work_dir/warehouse, target and logs beside it; the executors' Python workers run this
    interpreter, which has ltv. The demo seeds are the raw data unless a step sets LTV_RAW_DIR."""
    environment = dict(os.environ)
    environment.pop("LTV_RAW_DIR", None)
    environment.update({
        "LTV_TARGET": "spark", "LTV_SPARK_WAREHOUSE_DIR": str(work_dir / "warehouse"),
        "DBT_PROFILES_DIR": str(PROJECT_DIR / "profiles"), "DBT_TARGET_PATH": str(work_dir / "target"),
        "DBT_LOG_PATH": str(work_dir / "logs"), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "PYSPARK_PYTHON": sys.executable, "LTV_SPARK_JVM_OPTIONS": SPARK_TEST_JVM_OPTIONS,
    })
    return environment


def spark_parquet(warehouse: Path, folder: str) -> str:
    """A Spark table's Parquet files (folder `<schema>.db/<table>` under the warehouse) as DuckDB SQL."""
    return f"read_parquet('{warehouse / folder}/*.parquet')"


def local_spark_session(tmp_path_factory, name: str, master: str = "local[1]", partitions: int = 2):
    """A SparkSession of the test process on a catalogue of its own (not a build's: the embedded Derby of a
    build admits one JVM at a time), with the Python workers of the executors on this interpreter, which
    has ltv: the test_spark_* files run ltv's Spark functions in it on small hand-made frames."""
    from pyspark.sql import SparkSession

    from ltv.engines.frames import use_this_python_for_spark_workers

    use_this_python_for_spark_workers()
    session = (SparkSession.builder.master(master).appName(name)
               .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp(name)))
               .config("spark.sql.session.timeZone", "UTC").config("spark.sql.shuffle.partitions", str(partitions))
               .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
               .config("spark.driver.extraJavaOptions", SPARK_SESSION_JVM_OPTIONS)
               # Adaptive execution re-plans each stage from its statistics: on the tests' frames of a few
               # rows it only adds planning (about a sixth of these files' time); the results are the same.
               .config("spark.sql.adaptive.enabled", "false").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    return session


def spark_session_on(warehouse: Path, name: str, master: str = "local[1]"):
    """A SparkSession on a finished Spark build's catalogue (its embedded Derby is free once dbt ended):
    the tests read Spark's views through it."""
    from pyspark.sql import SparkSession

    return (SparkSession.builder.master(master).appName(name)
            .config("spark.sql.warehouse.dir", str(warehouse))
            .config("spark.hadoop.javax.jdo.option.ConnectionURL",
                    f"jdbc:derby:;databaseName={warehouse}/metastore_db;create=false")
            .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={warehouse} {SPARK_SESSION_JVM_OPTIONS}")
            .config("spark.sql.session.timeZone", "UTC").config("spark.sql.shuffle.partitions", "2")
            .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
            .enableHiveSupport().getOrCreate())


def made_once_per_run(tmp_path_factory, name: str, make) -> Path:
    """The folder `make(folder)` filled, made once per test run: the xdist workers share it (the first
    to need it makes it while the others wait, since a second identical build would only take a core
    from the tests). Tests read what is in it or copy it."""
    import fcntl

    if not os.environ.get("PYTEST_XDIST_TESTRUNUID"):
        folder = tmp_path_factory.mktemp(name)
        make(folder)
        return folder
    shared = tmp_path_factory.getbasetemp().parent  # one folder per run, above each worker's own
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        folder, made = shared / name, shared / f"{name}.made"
        if not made.exists():  # (a worker that failed leaves no mark: the next one starts afresh)
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            make(folder)
            made.touch()
    return folder


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory) -> Path:
    """The bundled demo built once per test run into a fresh file with `dbt build` (models and data
    tests), shared by the xdist workers. Tests read it or copy it."""
    return made_once_per_run(tmp_path_factory, "demo_build", build_warehouse) / "warehouse.duckdb"


# What the second run of the Spark demo (spark_demo) may change: the reuse test compares them with this copy.
SPARK_FIRST_BUILD_FOLDERS = ["ml.db/ml_text_sentiment_v2", "registry.db/model_run_log", "registry.db/fitted_models"]


def _build_the_demo_on_spark(folder: Path) -> None:
    """All in one process (spark_steps.py), so that Spark's JVM starts once: the base tables of a shop's
    raw files (test_spark_raw_files.py), copied to raw_files_build/, and of the same shop's tables in the
    raw schema (LTV_RAW_SOURCE=warehouse), copied to raw_warehouse_build/; the demo's `dbt build`; a copy of what
    a second run may change (first_build/); the second run of the model whose fits are reused when their
    training rows did not change (on the same warehouse: the embedded Derby admits one JVM at a time, so no
    test may run dbt on it later); the probe project of test_spark_target.py in a schema of its own."""
    import json

    from spark_extra_builds import (
        RAW_FILES_FOLDERS,
        RAW_FILES_SELECTION,
        drop_raw_tables,
        raw_tables_from_the_files,
        write_probe_project,
        write_raw_files_shop,
    )

    write_probe_project(folder / "probe")
    write_raw_files_shop(folder / "raw_files_shop")
    warehouse, first = folder / "warehouse", folder / "first_build"
    steps = [
        {"dbt": ["build", *RAW_FILES_SELECTION], "env": {"LTV_RAW_DIR": str(folder / "raw_files_shop")},
         "output": str(folder / "raw_files_build.log")},
        {"copy": [[str(warehouse / name), str(folder / "raw_files_build" / name)] for name in RAW_FILES_FOLDERS]},
        {"spark_sql": raw_tables_from_the_files()},
        {"dbt": ["build", *RAW_FILES_SELECTION], "env": {"LTV_RAW_SOURCE": "warehouse"},
         "output": str(folder / "raw_warehouse_build.log")},
        {"copy": [[str(warehouse / name), str(folder / "raw_warehouse_build" / name)] for name in RAW_FILES_FOLDERS]},
        {"spark_sql": drop_raw_tables()},
        {"dbt": ["build"], "output": str(folder / "build.log")},
        {"copy": [*([str(warehouse / name), str(first / name)] for name in SPARK_FIRST_BUILD_FOLDERS),
                  [str(folder / "target" / "run_results.json"), str(first / "run_results.json")]]},
        {"dbt": ["run", "-s", "ml_text_sentiment.v2"], "output": str(folder / "rerun.log")},
        {"dbt": ["build", "--project-dir", str(folder / "probe")], "output": str(folder / "probe" / "build.log"),
         "env": {"DBT_TARGET_PATH": str(folder / "probe" / "target"), "DBT_LOG_PATH": str(folder / "probe" / "logs")}},
    ]
    (folder / "steps.json").write_text(json.dumps(steps, indent=1))
    result = subprocess.run([sys.executable, str(Path(__file__).with_name("spark_steps.py")), str(folder / "steps.json")],
                            cwd=PROJECT_DIR, env=spark_environment(folder), capture_output=True, text=True)
    logs = "".join(Path(step["output"]).read_text()[-6000:] for step in steps
                   if "output" in step and Path(step["output"]).exists())
    assert result.returncode == 0, logs + result.stdout[-3000:] + result.stderr[-3000:]


@pytest.fixture(scope="session")
def spark_demo(tmp_path_factory) -> Path:
    """The whole demo built once per run on the `spark` target (shared by the xdist workers, so one Spark
    build serves every test_spark_* file): its work folder, with the Spark warehouse in warehouse/. After
    the build, ml_text_sentiment v2 was run again; what it may have changed is kept as the build left it
    in first_build/ (SPARK_FIRST_BUILD_FOLDERS and run_results.json). Tests read the tables' Parquet files
    (spark_parquet); one SparkSession at a time may open the catalogue (spark_session_on).
    LTV_TEST_SPARK_DEMO=<folder> reads a folder this fixture made in an earlier run instead (local work on
    the Spark tests: the build takes minutes; CI never sets it)."""
    if os.environ.get("LTV_TEST_SPARK_DEMO"):
        return Path(os.environ["LTV_TEST_SPARK_DEMO"])
    return made_once_per_run(tmp_path_factory, "spark_demo_build", _build_the_demo_on_spark)


@pytest.fixture(scope="session")
def demo_published(demo_warehouse, tmp_path_factory) -> Path:
    """The served file of the shared demo build, published once per run through `ltv publish`'s real
    path (publish_built_warehouse), with its report beside it. Tests read it."""
    made = made_once_per_run(tmp_path_factory, "demo_published",
                             lambda folder: publish_built_warehouse(demo_warehouse, folder / "ltv.duckdb"))
    return made / "ltv.duckdb"


@pytest.fixture
def demo_connection(demo_warehouse):
    connection = duckdb.connect(str(demo_warehouse), read_only=True)
    yield connection
    connection.close()


@pytest.fixture(scope="session")
def small_shop(tmp_path_factory) -> Path:
    """A small generated shop as Parquet files (different from the bundled demo), one folder per run
    (read only: tests that change it change a copy), so that small_shop_warehouse serves every worker."""
    from ltv.generate import generate_shop

    return made_once_per_run(tmp_path_factory, "small_shop",
                             lambda folder: generate_shop(400, folder, seed=11, file_format="parquet", n_items=120))


@pytest.fixture(scope="session")
def small_shop_warehouse(small_shop, tmp_path_factory) -> Path:
    """small_shop built once per run with `dbt build` (models and data tests), shared like the demo's:
    tests read it, copy it or publish it (publish_built_warehouse)."""
    made = made_once_per_run(tmp_path_factory, "small_shop_build", lambda folder: build_warehouse(folder, small_shop))
    return made / "warehouse.duckdb"


def table_checksums(warehouse_path: Path, exclude_tables=(), exclude_columns=()) -> dict:
    """An order-independent checksum of every table and view the models make (the schemas in
    MODEL_SCHEMAS), by relation name: the names are unique across those schemas."""
    connection = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        relations = connection.execute(
            f"select table_schema, table_name from information_schema.tables where table_schema in {MODEL_SCHEMAS_SQL} "
            "order by 2").fetchall()
        checksums = {}
        for schema, relation in relations:
            if relation in exclude_tables:
                continue
            assert relation not in checksums, f"{relation} is in two schemas"
            columns = [row[0] for row in connection.execute(
                "select column_name from information_schema.columns where table_schema = ? "
                "and table_name = ? order by ordinal_position", [schema, relation]).fetchall()]
            kept = [column for column in columns if column not in exclude_columns]
            row_expression = "hash(" + ", ".join(f'"{column}"' for column in kept) + ")"
            count, checksum = connection.execute(
                f'select count(*), coalesce(sum({row_expression}), 0) from "{schema}"."{relation}"').fetchall()[0]
            checksums[relation] = (count, int(checksum))
        return checksums
    finally:
        connection.close()


def publish_built_warehouse(build_path: Path, served_path: Path, export_dir: Path | None = None) -> Path:
    """Run `ltv publish`'s real path after a green build (swap, served file, report) on a copy of an
    already built warehouse, instead of building again: its manifest is in <build folder>/target."""
    import shutil

    import ltv.publish as publish_module

    def copy_the_build(into_path, *arguments):
        shutil.copy2(build_path, into_path)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(publish_module, "_build", copy_the_build)
        patch.setenv("DBT_TARGET_PATH", str(build_path.parent / "target"))
        return publish_module.publish(served_path, project_dir=PROJECT_DIR, generate_docs=False, export_dir=export_dir)


@pytest.fixture
def spy_on_workers(monkeypatch):
    """Record whether sentiment scoring's forked path ran and succeeded (rather than silently falling
    back): one (texts, workers) pair per run in children."""
    from ltv.sentiment import workers

    calls = []
    original = workers._run_in_children

    def spy(task, count, worker_count):
        result = original(task, count, worker_count)
        calls.append((count, worker_count))
        return result

    monkeypatch.setattr(workers, "_run_in_children", spy)
    return calls
