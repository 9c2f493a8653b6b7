"""The `ltv` command. Each subcommand lives in its own module, which exposes
`add_arguments(parser)` and `run(args) -> int`; modules load lazily so that
`ltv generate` does not pay for importing dbt."""

from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMANDS = {
    "generate": ("ltv.generate", "write a synthetic shop (the demo, or large sets for benchmarks)"),
    "publish": ("ltv.publish", "build the warehouse into a fresh file and swap it in only if the build passes"),
    "bench": ("ltv.bench", "measure build time and memory at demo, medium and large scale"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ltv", description="Long-term customer value analytics on dbt + DuckDB.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        subparser = subparsers.add_parser(name, help=help_text, description=help_text)
        module = importlib.import_module(module_name)
        module.add_arguments(subparser)
        subparser.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
