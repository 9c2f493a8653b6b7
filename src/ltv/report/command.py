"""`ltv report`: write the report page of a served warehouse file."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ltv.report import REPORT_FILE_NAME

DEFAULT_WAREHOUSE = "warehouse/ltv.duckdb"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--warehouse", default=os.environ.get("LTV_DUCKDB_PATH", DEFAULT_WAREHOUSE),
                        help="the served warehouse file to report on (default: $LTV_DUCKDB_PATH or "
                             f"{DEFAULT_WAREHOUSE})")
    parser.add_argument("--out", default=None,
                        help=f"where to write the page (default: {REPORT_FILE_NAME} next to the warehouse file)")


def run(args: argparse.Namespace) -> int:
    from ltv.report.render import write_report

    warehouse_path = Path(args.warehouse)
    out_path = Path(args.out) if args.out else warehouse_path.with_name(REPORT_FILE_NAME)
    write_report(warehouse_path, out_path)
    print(f"ltv report: {out_path}", flush=True)
    return 0
