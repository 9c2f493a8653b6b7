"""How many cores this process may use: the forked scoring workers of sentiment and the explanation
threads of the user-value models size themselves by it."""

from __future__ import annotations

import os


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, which a container or `taskset` may narrow),
    or the machine's count where affinity is unknown (not Linux)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
