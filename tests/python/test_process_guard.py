"""ltv.process_guard: a command run under the guard, and every process it starts, dies with its caller
however the caller ends (what keeps a killed `ltv publish` from leaving dbt or its workers behind)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys

import pytest
from publish_processes import assert_all_gone, process_state, wait_for

# A command that starts a grandchild which, like multiprocessing's resource tracker, ignores SIGTERM
# and SIGINT, then records both pids and lingers (or, with "exit", leaves its grandchild behind).
FAMILY = r"""
import os, signal, subprocess, sys, time
grandchild = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(120)"])
with open(sys.argv[1], "w") as pids:
    pids.write(f"{os.getpid()} {grandchild.pid}")
if sys.argv[2] != "exit":
    time.sleep(120)
"""

# The caller: what `ltv publish` does around dbt, with the SIGTERM handling of `ltv.cli`.
CALLER = r"""
import signal, sys
from pathlib import Path
from ltv.cli import _raise_terminated
from ltv.process_guard import run_guarded
signal.signal(signal.SIGTERM, _raise_terminated)
# A shell starts background jobs with SIGINT ignored and Python then keeps it ignored: restore the
# interactive default so the SIGINT case tests ltv, not how the test runner was started.
signal.signal(signal.SIGINT, signal.default_int_handler)
run_guarded([sys.executable, "-c", sys.argv[1], sys.argv[2], sys.argv[3]], cwd=Path("."), env=None,
            grace_seconds=0.5)
print("returned", flush=True)
"""


@pytest.mark.parametrize("ending", ["SIGKILL", "SIGTERM", "SIGINT", "exit"])
def test_a_guarded_command_and_its_children_die_with_the_caller(tmp_path, ending):
    pids_file, output = tmp_path / "pids", tmp_path / "output"
    # Output to a file, not a pipe: a process left behind would hold a pipe open and hang the test.
    with output.open("w") as output_file:
        caller = subprocess.Popen([sys.executable, "-c", CALLER, FAMILY, str(pids_file), ending],
                                  stdout=output_file, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: pids_file.exists() and " " in pids_file.read_text(), 30, "the command to start")
        family = {int(pid) for pid in pids_file.read_text().split()}
        groups = {state[1] for pid in family if (state := process_state(pid))}
        assert len(groups) == 1 and caller.pid not in groups, "the command runs in a group of its own"
        if ending != "exit":
            caller.send_signal(getattr(signal, ending))
        caller.wait(timeout=30)
        assert_all_gone(family, groups)
    finally:
        caller.kill()
        for group in groups:  # whatever a failed assertion left behind
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
    assert ("returned" in output.read_text()) == (ending == "exit"), output.read_text()
