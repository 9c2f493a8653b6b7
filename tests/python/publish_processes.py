"""What the publish tests look at in /proc: the processes of a publish, and that none outlives it."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path


def process_state(pid: int) -> tuple[str, int] | None:
    """(state letter, process group) of a live process; None once it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    state, _parent, group = stat[stat.rindex(")") + 2:].split()[:3]
    return None if state in "ZX" else (state, int(group))


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    for children_file in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in children_file.read_text().split():
            found |= {int(child)} | descendants(int(child))
    return found


def live_members(groups: set[int]) -> list[str]:
    """Every live process in one of `groups`, whoever its parent is now."""
    return [f"{entry.name}: {command_line(int(entry.name))}" for entry in Path("/proc").iterdir()
            if entry.name.isdigit() and (state := process_state(int(entry.name))) and state[1] in groups]


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return "(gone)"


def assert_all_gone(pids: set[int], groups: set[int], within_seconds: float = 5.0) -> None:
    deadline = time.monotonic() + within_seconds
    while time.monotonic() < deadline:
        if not any(process_state(pid) for pid in pids) and not live_members(groups):
            return
        time.sleep(0.1)
    raise AssertionError(f"still running: {[pid for pid in pids if process_state(pid)]} {live_members(groups)}")


def wait_for(condition, timeout_seconds: float, what: str) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def dbt_build_started(publish_process: subprocess.Popen) -> bool:
    # The dbt process itself, not only the guard whose command line names it.
    return any("bin/dbt build" in command and "process_guard" not in command
               for command in map(command_line, descendants(publish_process.pid)))


def processes_while_dbt_builds(publish_process: subprocess.Popen, building: Path) -> tuple[set[int], set[int], list[str]]:
    """Once dbt is writing the building file: the publish's descendants, every process group of them,
    and their command lines."""
    wait_for(lambda: building.exists() and dbt_build_started(publish_process), 120,
             "dbt to start writing the building file")
    time.sleep(2)
    children = descendants(publish_process.pid)
    groups = {publish_process.pid} | {state[1] for pid in children if (state := process_state(pid))}
    return children, groups, [command_line(pid) for pid in children]
