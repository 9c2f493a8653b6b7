"""`ltv report`: write the report page of a served warehouse file."""

from __future__ import annotations

import argparse
from pathlib import Path

from ltv.report import REPORT_FILE_NAME

DEFAULT_WAREHOUSE = "warehouse/ltv.duckdb"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--warehouse", default=None,
                        help="the served warehouse file to report on (default: $LTV_DUCKDB_PATH or "
                             f"{DEFAULT_WAREHOUSE}, in the project folder found upward from here, as "
                             "ltv publish reads it)")
    parser.add_argument("--out", default=None,
                        help=f"where to write the page (default: {REPORT_FILE_NAME} next to the warehouse file)")


def run(args: argparse.Namespace) -> int:
    from ltv.report.render import write_report

    if args.warehouse:
        warehouse_path = Path(args.warehouse)
    else:
        from ltv.cli import find_project_dir
        from ltv.publish import served_path_for

        warehouse_path = served_path_for(None, find_project_dir(Path.cwd()))
    out_path = Path(args.out) if args.out else warehouse_path.with_name(REPORT_FILE_NAME)
    write_report(warehouse_path, out_path)
    print(f"ltv report: {out_path}", flush=True)
    return 0
