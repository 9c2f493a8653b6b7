"""`ltv bench`: how ltv's cost grows with the shop.

For a scale (demo, medium, large) it generates the shop once as Parquet (cached by scale and seed),
runs a full `dbt build` into a fresh warehouse reading those files as sources, then appends about 1%
new orders, order lines, reviews and support conversations and runs an incremental `dbt build`.
Each dbt run is measured from outside: wall time, peak resident memory of the whole process tree,
and per-model times from dbt's run_results.json. With --reference it also times the published
approach (pandas features, dense scikit-learn cosine, row-by-row TextBlob) on the same data and
finds the catalogue size at which the dense cosine no longer fits in memory, and compares the models'
quality shape by shape with the best single-purpose peers (ltv.model_comparison: a plain boosting
model for customer value, implicit's BM25 item-kNN for recommendations).

Reports go to <out>/<scale>/report.md and report.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ltv.build_profile import (
    CoreSampler,
    budget_verdicts,
    core_profile,
    cpu_profile,
    memory_peak,
    node_name,
    stage_seconds,
)

SCALES = {
    # users, items (None = the generator's default: max(500, users // 20))
    "demo": (2_000, 500),
    "medium": (100_000, None),
    "large": (1_000_000, 50_000),
}
INCREMENT_SHARE = 0.01
APPENDED_TABLES = ("orders", "order_items", "reviews", "support_conversations")


def scale_description(scale: str) -> str:
    from ltv.generate import default_item_count

    users, items = SCALES[scale]
    return f"{scale} = {users:,} users, {items or default_item_count(users):,} items"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ltv.cli import path_text, whole_number

    parser.add_argument("--scale", type=str.lower, choices=list(SCALES), default="demo",
                        help="the size of the generated shop (any case; default demo): "
                             + "; ".join(scale_description(scale) for scale in SCALES)
                             + ". Orders, lines, events and reviews grow with the users (medium: about 1.0M order "
                               "lines, 1.6M events). Generated once, then reused from --data-dir")
    parser.add_argument("--seed", type=whole_number(0, 2**32 - 1), default=42,
                        help="seed of the generated shop, 0 to 4294967295 (default 42)")
    parser.add_argument("--data-dir", type=path_text, default="bench/data",
                        help="cache of generated shops, one folder per scale and seed (default bench/data)")
    parser.add_argument("--out", type=path_text, default="bench/results",
                        help="where reports (<out>/<scale>/report.md, report.json) and warehouses go "
                             "(default bench/results)")
    parser.add_argument("--project-dir", type=path_text, default=None,
                        help="the ltv dbt project (default: the nearest folder upward from here with a dbt_project.yml)")
    parser.add_argument("--reference", action="store_true",
                        help="also time the published approach (pandas, dense cosine, row-by-row TextBlob), and "
                             "build every generated shape at 3,000 users to compare v1/v2/latest/champion with a "
                             "plain boosting model and implicit's BM25 item-kNN (adds about 10 minutes)")
    parser.add_argument("--skip-incremental", action="store_true",
                        help="only the full build, not the rebuild after ~1%% new orders")
    parser.add_argument("--incremental-runs", type=whole_number(1, 100), default=1,
                        help="repeat the incremental build, each time from a copy of the full build (timings on a "
                             "shared machine vary; the report gives every run and the median); 1 to 100, default 1")


def run(args: argparse.Namespace) -> int:
    from ltv.cli import find_project_dir

    # Checked before the shop is generated, which takes minutes at large scale.
    project_dir = find_project_dir(Path(args.project_dir or "."), search_upward=args.project_dir is None)
    report = benchmark(
        scale=args.scale, seed=args.seed, data_dir=Path(args.data_dir), out_dir=Path(args.out),
        project_dir=project_dir, reference=args.reference, incremental=not args.skip_incremental,
        incremental_runs=args.incremental_runs,
    )
    print(render_markdown(report))
    return 0 if report["full_build"]["exit_code"] == 0 else 1


def log(message: str, started: float | None = None) -> None:
    suffix = f" ({time.monotonic() - started:.1f} s)" if started is not None else ""
    print(f"[ltv bench] {message}{suffix}", flush=True)


# --------------------------------------------------------------------------------------------------
# Data


def shop_data(scale: str, seed: int, data_dir: Path) -> Path:
    """The generated shop for a scale, generated once and then reused."""
    from ltv.generate import generate_shop

    users, items = SCALES[scale]
    folder = (data_dir / f"{scale}-seed{seed}").resolve()
    marker = folder / "complete.json"
    if marker.exists():
        log(f"using cached {scale} data in {folder}")
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    started = time.monotonic()
    log(f"generating {scale} shop: {users:,} users ...")
    counts = generate_shop(users, folder, seed=seed, file_format="parquet", n_items=items,
                           progress=lambda message: log(message, started))
    marker.write_text(json.dumps({"scale": scale, "seed": seed, "rows": counts,
                                  "seconds": round(time.monotonic() - started, 1)}))
    log(f"generated {scale} shop", started)
    return folder


def appended_copy(source: Path, target: Path, share: float = INCREMENT_SHARE) -> dict:
    """A copy of the shop with ~share new orders (with their lines), reviews and conversations.

    New rows copy a deterministic sample of existing ones under new ids and are dated in the 30
    days after the latest order, as the next month of a real shop would be; they are written after
    the existing rows, which keep their file order, as a loader appending to the file would. The benchmark pins the
    cut-off of the full build (var ltv_cutoff_date), as a shop that refits monthly and scores daily
    would: the training sets stay put, fits are reused, and everything is scored again as of the
    new latest date. What the run measures is what loading and scoring new rows costs.
    """
    import duckdb

    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    connection = duckdb.connect()
    added = {}
    modulus = max(int(round(1 / share)), 1)
    latest = f"(select max(cast(ordered_at as timestamp)) from read_parquet('{source}/orders.parquet'))"

    def recent(key: str) -> str:
        return f"{latest} + to_days(1 + cast(hash({key}) % 30 as integer)) + to_hours(cast(hash({key}) % 24 as integer))"

    queries = {
        "orders": f"""
            select 'N' || order_id, user_id, {recent("order_id")}, status
            from read_parquet('{source}/orders.parquet') where hash(order_id) % {modulus} = 0""",
        "order_items": f"""
            select 'N' || order_id, item_id, quantity, unit_price
            from read_parquet('{source}/order_items.parquet')
            where order_id in (select order_id from read_parquet('{source}/orders.parquet')
                               where hash(order_id) % {modulus} = 0)""",
        "reviews": f"""
            select 'N' || review_id, user_id, item_id, rating,
                   comment || ' (update ' || review_id || ')', {recent("review_id")}
            from read_parquet('{source}/reviews.parquet') where hash(review_id) % {modulus} = 0""",
        "support_conversations": f"""
            select 'N' || conversation_id, user_id, {recent("conversation_id")},
                   {recent("conversation_id")} + (first_response_at - opened_at),
                   message || ' (follow-up ' || conversation_id || ')', satisfaction_rating
            from read_parquet('{source}/support_conversations.parquet')
            where hash(conversation_id) % {modulus} = 0""",
    }
    for table in ("users", "items", "events", *APPENDED_TABLES):
        path = target / f"{table}.parquet"
        if table in queries:
            # The existing rows first, in their file order, then the new ones: what a loader appending
            # to the file writes, and what lets the rebuild check only the new rows.
            connection.execute(f"""
                copy (
                    select * exclude (appended, position) from (
                        select * exclude (file_row_number), false as appended, file_row_number as position
                        from read_parquet('{source}/{table}.parquet', file_row_number = true)
                        union all
                        select *, true, row_number() over () from ({queries[table]})
                    )
                    order by appended, position
                ) to '{path}' (format parquet)""")
            before = connection.execute(f"select count(*) from read_parquet('{source}/{table}.parquet')").fetchall()[0][0]
            after = connection.execute(f"select count(*) from read_parquet('{path}')").fetchall()[0][0]
            added[table] = after - before
        else:
            os.symlink(source / f"{table}.parquet", path)
    connection.close()
    return added


# --------------------------------------------------------------------------------------------------
# Measuring a dbt run

_MEASURE_CHILD = """
import json, resource, subprocess, sys
result = subprocess.run(sys.argv[2:])
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as handle:
    json.dump({"peak_rss_kb": usage.ru_maxrss, "cpu_seconds": usage.ru_utime + usage.ru_stime}, handle)
sys.exit(result.returncode)
"""


def measured_dbt_run(arguments: list[str], project_dir: Path, environment: dict, label: str) -> dict:
    """Run dbt in a wrapper process that reports the peak RSS of its whole process tree."""
    dbt = Path(sys.executable).with_name("dbt")
    rss_file = Path(environment["DBT_TARGET_PATH"]) / "resource_usage.json"
    rss_file.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-c", _MEASURE_CHILD, str(rss_file), str(dbt), *arguments]
    started = time.monotonic()
    log(f"{label}: dbt {' '.join(arguments)}")
    process = subprocess.Popen(command, cwd=project_dir, env=environment, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    output_tail: list[str] = []
    with CoreSampler(process.pid) as sampler:
        for line in process.stdout:
            line = line.rstrip()
            output_tail = (output_tail + [line])[-40:]
            # dbt prints one line per model start/finish: enough to show progress with elapsed time.
            if " OK " in line or "ERROR" in line or "FAIL" in line or "WARN" in line or "Done." in line:
                print(f"[ltv bench {time.monotonic() - started:7.1f} s] {line.strip()}", flush=True)
        exit_code = process.wait()
    seconds = time.monotonic() - started
    usage = json.loads(rss_file.read_text()) if rss_file.exists() else {}
    peak_rss_mb = usage["peak_rss_kb"] / 1024 if usage else None
    log(f"{label} finished with exit code {exit_code}", started)
    return {"exit_code": exit_code, "wall_seconds": round(seconds, 1),
            "peak_rss_mb": None if peak_rss_mb is None else round(peak_rss_mb),
            # CPU time of all processes over wall time: how many cores the run kept busy on average.
            "cpu_seconds": round(usage["cpu_seconds"], 1) if usage else None,
            "model_seconds": model_timings(Path(environment["DBT_TARGET_PATH"]) / "run_results.json"),
            **node_profile(Path(environment["DBT_TARGET_PATH"]) / "run_results.json"),
            **core_profile(sampler.samples),
            **cpu_profile(sampler.samples, _run_results(Path(environment["DBT_TARGET_PATH"]))),
            **memory_peak(sampler.memory_samples, _run_results(Path(environment["DBT_TARGET_PATH"]))),
            "output_tail": output_tail if exit_code != 0 else []}


def _run_results(target_dir: Path) -> dict | None:
    path = target_dir / "run_results.json"
    return json.loads(path.read_text()) if path.exists() else None


def node_profile(run_results_path: Path) -> dict:
    """Every node's time (models, seeds, tests, unit tests) and their totals per stage."""
    if not run_results_path.exists():
        return {"node_seconds": {}, "stage_seconds": {}}
    node_seconds = {node_name(result["unique_id"]): round(result["execution_time"], 2)
                    for result in json.loads(run_results_path.read_text())["results"]}
    return {"node_seconds": node_seconds, "stage_seconds": stage_seconds(node_seconds)}


def model_timings(run_results_path: Path) -> dict:
    if not run_results_path.exists():
        return {}
    results = json.loads(run_results_path.read_text())["results"]
    timings = {}
    for result in results:
        unique_id = result["unique_id"]
        if unique_id.startswith(("model.", "seed.")):
            timings[unique_id.split(".", 2)[-1]] = round(result["execution_time"], 2)
    return dict(sorted(timings.items(), key=lambda item: -item[1]))


def full_build_cutoff(warehouse_path: Path) -> str:
    """The cut-off date the full build used (its default: the latest order date minus the horizon)."""
    import duckdb

    connection = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        return connection.execute("select cast(cutoff_date as varchar) from intermediate.int_model_settings").fetchall()[0][0]
    finally:
        connection.close()


def table_row_counts(warehouse_path: Path) -> dict:
    import duckdb

    connection = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        tables = connection.execute(
            "select table_schema, table_name from information_schema.tables "
            # Every schema a build writes tables to: the public one and the internals' (dbt_project.yml).
            "where table_type = 'BASE TABLE' and table_schema in ('main', 'staging', 'intermediate', 'ml', 'registry') "
            "order by 1, 2"
        ).fetchall()
        return {f"{schema}.{name}": connection.execute(f'select count(*) from "{schema}"."{name}"').fetchall()[0][0]
                for schema, name in tables}
    finally:
        connection.close()


def dbt_environment(warehouse_path: Path, raw_dir: Path, target_dir: Path) -> dict:
    environment = dict(os.environ)
    environment.update({
        "LTV_DUCKDB_PATH": str(warehouse_path),
        "LTV_RAW_DIR": str(raw_dir),
        "DBT_PROFILES_DIR": environment.get("DBT_PROFILES_DIR", "profiles"),
        "DBT_TARGET_PATH": str(target_dir),
        "DBT_LOG_PATH": str(target_dir / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    })
    environment.pop("LTV_RAW_SOURCE", None)
    return environment


# --------------------------------------------------------------------------------------------------
# The benchmark


def machine_description() -> dict:
    memory_gb = None
    try:
        with open("/proc/meminfo") as handle:
            memory_gb = round(int(handle.readline().split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    processor = platform.processor()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    processor = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "memory_gb": memory_gb, "processor": processor,
            "python": platform.python_version(), "system": platform.platform()}


def benchmark(scale: str, seed: int, data_dir: Path, out_dir: Path, project_dir: Path,
              reference: bool = False, incremental: bool = True, incremental_runs: int = 1) -> dict:
    out = (out_dir / scale).resolve()
    out.mkdir(parents=True, exist_ok=True)
    generation_started = time.monotonic()
    raw_dir = shop_data(scale, seed, data_dir)
    generation_seconds = time.monotonic() - generation_started
    warehouse_path = out / "warehouse.duckdb"
    for leftover in (warehouse_path, warehouse_path.with_name(warehouse_path.name + ".wal")):
        leftover.unlink(missing_ok=True)

    report = {"scale": scale, "seed": seed, "machine": machine_description(),
              "data_rows": json.loads((raw_dir / "complete.json").read_text())["rows"],
              "data_seconds": round(generation_seconds, 1)}
    full = measured_dbt_run(["build"], project_dir, dbt_environment(warehouse_path, raw_dir, out / "target-full"),
                            f"{scale} full build")
    full["table_rows"] = table_row_counts(warehouse_path) if full["exit_code"] == 0 else {}
    report["full_build"] = full

    if incremental and full["exit_code"] == 0:
        appended_dir = out / "raw-appended"
        report["appended_rows"] = appended_copy(raw_dir, appended_dir)
        report["pinned_cutoff_date"] = full_build_cutoff(warehouse_path)
        pinned = json.dumps({"ltv_cutoff_date": report["pinned_cutoff_date"]})

        def incremental_run(attempt: int) -> dict:
            run_report = measured_dbt_run(["build", "--vars", pinned], project_dir,
                                          dbt_environment(warehouse_path, appended_dir, out / "target-incremental"),
                                          f"{scale} incremental build {attempt}/{incremental_runs}")
            run_report["table_rows"] = table_row_counts(warehouse_path) if run_report["exit_code"] == 0 else {}
            return run_report

        runs = runs_from_one_start(warehouse_path, incremental_runs, incremental_run)
        report["incremental_build"] = median_run(runs)
        report["incremental_wall_seconds"] = [run_report["wall_seconds"] for run_report in runs]

    if reference:
        from ltv.reference import run_reference

        report["reference"] = run_reference(raw_dir, log=log)
        from ltv.model_comparison import run_model_comparison

        report["model_comparison"] = run_model_comparison(data_dir, out, project_dir, seed=seed, log=log)

    report["budgets"] = [{"run": key, **row} for key in ("full_build", "incremental_build") if key in report
                         for row in budget_verdicts(scale, key, report[key])]
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str))
    (out / "report.md").write_text(render_markdown(report))
    log(f"report written to {out / 'report.md'}")
    return report


def runs_from_one_start(warehouse_path: Path, runs: int, run_once: Callable[[int], dict]) -> list[dict]:
    """`run_once(attempt)` for attempts 1 to `runs`, each on the warehouse as it was before the first: from
    the second on, a copy taken before the first is put back, and the write-ahead log the last run may
    have left is dropped (DuckDB would replay it onto the copy)."""
    start_copy = warehouse_path.with_name("warehouse-after-full-build.duckdb")
    if runs > 1:
        shutil.copyfile(warehouse_path, start_copy)
    try:
        reports = []
        for attempt in range(1, runs + 1):
            if attempt > 1:
                warehouse_path.with_name(warehouse_path.name + ".wal").unlink(missing_ok=True)
                shutil.copyfile(start_copy, warehouse_path)
            reports.append(run_once(attempt))
        return reports
    finally:
        start_copy.unlink(missing_ok=True)


def median_run(runs: list[dict]) -> dict:
    """The run with the median wall time (the faster of the middle two for an even count) stands for all;
    the report keeps every run's time beside it."""
    return sorted(runs, key=lambda run_report: run_report["wall_seconds"])[(len(runs) - 1) // 2]


RUN_LABELS = (("full_build", "full build"), ("incremental_build", "incremental build (+1%)"))


def _percent(share: float | None) -> str:
    return "" if share is None else f"{share:.0%}"


def _stage_lines(report: dict) -> list[str]:
    """Node seconds per stage for each run, then the budgets (large shop only) and which are over."""
    runs = [(key, label) for key, label in RUN_LABELS if report.get(key, {}).get("stage_seconds")]
    if not runs:
        return []
    stages = list(report[runs[0][0]]["stage_seconds"])
    # Node seconds include waiting beside other nodes; the CPU estimate (node_cpu_seconds) does not.
    lines = ["", "## Node seconds and estimated CPU seconds per stage", "",
             "| stage | " + " | ".join(f"{label} s | {label} CPU-s" for _, label in runs) + " |",
             "|---|" + "---|---|" * len(runs)]
    lines += [f"| {stage} | " + " | ".join(f"{report[key]['stage_seconds'].get(stage, '')} | "
                                          f"{report[key].get('stage_cpu_seconds', {}).get(stage, '')}" for key, _ in runs)
              + " |" for stage in stages]
    budgets = report.get("budgets") or []
    if budgets:
        over = [row["what"] for row in budgets if row["over"]]
        lines += ["", "## Budgets (large shop, 2 cores)", "", "| run | budget of | budget | measured | over |",
                  "|---|---|---|---|---|"]
        lines += [f"| {row['run']} | {row['what']} | {row['budget']:g} | {row['measured']} | "
                  f"{'**over**' if row['over'] else ('no' if row['over'] is False else 'not measured')} |"
                  for row in budgets]
        lines += ["", "Over budget: " + (", ".join(over) if over else "nothing") + "."]
    return lines


def render_markdown(report: dict) -> str:
    machine = report["machine"]
    lines = [
        f"# ltv benchmark — {report['scale']} (seed {report['seed']})",
        "",
        f"Machine: {machine['cores']} cores, {machine['memory_gb']} GB RAM, {machine['processor']}, "
        f"Python {machine['python']}.",
        "",
        "Raw rows: " + ", ".join(f"{table} {count:,}" for table, count in report["data_rows"].items()),
        "",
        "| run | exit | wall time (s) | peak RSS (MB) | CPU time (s) | cores busy | one-core share |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, label in RUN_LABELS:
        if key in report:
            run_report = report[key]
            cpu_seconds = run_report.get("cpu_seconds")
            cores_busy = round(cpu_seconds / run_report["wall_seconds"], 2) if cpu_seconds else None
            lines.append(f"| {label} | {run_report['exit_code']} | {run_report['wall_seconds']} | "
                         f"{run_report['peak_rss_mb']} | {cpu_seconds} | {cores_busy} | "
                         f"{_percent(run_report.get('one_core_share'))} |")
    lines += ["", "One-core share: the part of the wall time in which the build kept fewer than 1.5 cores busy "
              "(sampled twice a second over dbt's process tree)."]
    for key, label in RUN_LABELS:
        if report.get(key, {}).get("peak_memory_mb") is not None:
            run_report = report[key]
            lines += ["", f"Memory peak of the {label} (PSS of dbt's process tree, sampled): "
                      f"{run_report['peak_memory_mb']:,} MB at {run_report['peak_memory_seconds']} s, while "
                      + (", ".join(run_report["peak_memory_nodes"]) or "no node") + " ran."]
    lines += _stage_lines(report)
    for key, label in (("full_build", "Full build"), ("incremental_build", "Incremental build")):
        if key not in report:
            continue
        lines += ["", f"## {label}: slowest models (s)", "", "| model | seconds |", "|---|---|"]
        lines += [f"| {name} | {seconds} |" for name, seconds in list(report[key]["model_seconds"].items())[:15]]
        lines += ["", f"## {label}: most CPU, estimated (s)", "", "| node | CPU-s |", "|---|---|"]
        lines += [f"| {name} | {cpu} |" for name, cpu in list(report[key].get("node_cpu_seconds", {}).items())[:15]]
        if report[key].get("output_tail"):
            lines += ["", "```", *report[key]["output_tail"], "```"]
    if len(report.get("incremental_wall_seconds", [])) > 1:
        lines += ["", "Incremental builds (each from a copy of the full build), wall seconds: "
                  + ", ".join(str(seconds) for seconds in report["incremental_wall_seconds"])
                  + "; the table shows the median run."]
    if report.get("appended_rows"):
        lines += ["", "Appended for the incremental run (dated in the 30 days after the latest order; cut-off "
                  f"pinned at the full build's {report.get('pinned_cutoff_date')}): "
                  + ", ".join(f"{table} +{count:,}" for table, count in report["appended_rows"].items())]
    if report["full_build"].get("table_rows"):
        lines += ["", "## Rows per table (full build)", "", "| table | rows |", "|---|---|"]
        lines += [f"| {name} | {rows:,} |" for name, rows in report["full_build"]["table_rows"].items()]
    if "reference" in report:
        reference = report["reference"]
        lines += ["", "## The published approach on the same data", "", "| step | seconds |", "|---|---|"]
        lines += [f"| {step} | {seconds} |" for step, seconds in reference["seconds"].items()]
        for note in reference.get("notes", []):
            lines.append(f"\n{note}")
    if "model_comparison" in report:
        from ltv.model_comparison import render_comparison

        lines += render_comparison(report["model_comparison"])
    return "\n".join(lines) + "\n"
