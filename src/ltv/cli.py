"""The `ltv` command. Each subcommand lives in its own module, which exposes
`add_arguments(parser)` and `run(args) -> int`; modules load lazily so that
`ltv generate` does not pay for importing dbt.

Every command ends a failure with one line, `ltv <command>: <what is wrong>`, and a non-zero exit
status, never a traceback: a traceback tells the person running `ltv` nothing they can act on.
LTV_TRACEBACK=1 shows it anyway, for debugging ltv itself."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

SUBCOMMANDS = {
    "generate": ("ltv.generate", "write a synthetic shop (the demo, or large sets for benchmarks)"),
    "publish": ("ltv.publish", "build the warehouse into a fresh file and swap it in only if the build passes"),
    "bench": ("ltv.bench", "measure build time and memory at demo, medium and large scale"),
    "report": ("ltv.report.command", "write the HTML report (charts) of a served warehouse file"),
    "analyses": ("ltv.analyses", "write analyses/*.sql as plain SQL for the served file, to paste into a BI tool"),
}


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse prints the whole usage before the one line that says what is wrong; this keeps that
    line, points at --help and exits with argparse's status 2. Subparsers inherit the class."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def whole_number(minimum: int | None = None, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number within [minimum, maximum]."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if minimum is not None and value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum:,}, got {value:,}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum:,}, got {value:,}")
        return value
    return parse


def path_text(text: str) -> str:
    """An argparse type: a path that is not empty (an empty one would silently mean the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must be a path, got an empty string")
    return text


def existing_folder(text: str) -> str:
    """An argparse type: a folder that exists."""
    path_text(text)
    if not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text} is not a folder" if os.path.exists(text) else f"{text} does not exist")
    return text


def find_project_dir(start: Path, search_upward: bool = True) -> Path:
    """The dbt project folder: `start` or, searching upward, the nearest folder with a dbt_project.yml
    (as dbt finds it), so that ltv works from any folder of the project."""
    start = start.resolve()
    for folder in [start, *start.parents] if search_upward else [start]:
        if (folder / "dbt_project.yml").is_file():
            return folder
    where = f"{start} or any folder above it" if search_upward else str(start)
    raise ValueError(f"no dbt_project.yml in {where}; run ltv inside the ltv project or pass --project-dir")


def build_parser(chosen_command: str | None) -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(prog="ltv", description="Long-term customer value analytics on dbt + DuckDB. "
                                                           "`ltv <command> --help` explains each command's options.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        subparser = subparsers.add_parser(name, help=help_text, description=help_text)
        # Only the chosen subcommand's module is imported: `ltv generate` must not pay for dbt.
        if name == chosen_command:
            module = importlib.import_module(module_name)
            module.add_arguments(subparser)
            subparser.set_defaults(handler=module.run)
    return parser


class Terminated(BaseException):
    """SIGTERM or SIGHUP, raised in the main thread so that cleanup (`finally`, `with`) runs.

    A BaseException like KeyboardInterrupt, so that no `except Exception` swallows it.
    """


def _raise_terminated(signum, frame) -> None:
    raise Terminated(signal.Signals(signum).name)


@contextlib.contextmanager
def _terminate_as_exception() -> Iterator[None]:
    """SIGTERM and SIGHUP raise Terminated while a command runs (main() may run inside a test)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set signal handlers
        return
    previous = {signum: signal.signal(signum, _raise_terminated) for signum in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def describe(error: BaseException) -> str:
    """One line naming what is wrong."""
    if isinstance(error, OSError) and error.strerror:
        where = f": {error.filename}" if error.filename else ""
        return f"{error.strerror}{where}"
    if isinstance(error, (ValueError, OSError)):
        return str(error) or type(error).__name__
    return f"{type(error).__name__}: {error}"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen_command = argv[0] if argv and argv[0] in SUBCOMMANDS else None
    args = build_parser(chosen_command).parse_args(argv)
    try:
        with _terminate_as_exception():
            return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print(f"ltv {args.command}: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    except Terminated as stop:
        print(f"ltv {args.command}: stopped by {stop}", file=sys.stderr)
        return 128 + signal.Signals[str(stop)]
    except Exception as error:
        if os.environ.get("LTV_TRACEBACK"):
            raise
        print(f"ltv {args.command}: {describe(error)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
