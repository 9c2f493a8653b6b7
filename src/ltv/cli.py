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


def build_parser(chosen_command: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ltv", description="Long-term customer value analytics on dbt + DuckDB.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        subparser = subparsers.add_parser(name, help=help_text, description=help_text)
        # Only the chosen subcommand's module is imported: `ltv generate` must not pay for dbt.
        if name == chosen_command:
            module = importlib.import_module(module_name)
            module.add_arguments(subparser)
            subparser.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen_command = argv[0] if argv and argv[0] in SUBCOMMANDS else None
    args = build_parser(chosen_command).parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
