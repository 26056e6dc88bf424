"""Which process runs a search, and whether a process still runs.

A search records its owner (:func:`process_owner`) in its store, so that a search whose
process was killed (``kill -9``, out of memory) is not listed as running for good; workers
and the cleanup of temp files (save's) and directories (the workers' output) ask whether a
pid is alive (:func:`pid_alive`, :func:`left_by_dead_process`).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


def pid_alive(pid: int) -> bool:
    """True while process ``pid`` exists (one owned by another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def left_by_dead_process(pid_text: str) -> bool:
    """Whether a temp file or directory named with ``pid_text`` was left by a process that no
    longer runs (not this one; a name without a pid counts as a live one's)."""
    return pid_text.isdigit() and int(pid_text) != os.getpid() and not pid_alive(int(pid_text))


def process_started(pid: int) -> int | None:
    """The start time of process ``pid`` (field 22 of ``/proc/PID/stat``); None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])  # after "pid (comm)": field 22 is the 20th


def process_owner() -> dict:
    """This process, as a search records it: ``pid``, ``host`` and ``started`` (Linux: the
    process's start time in clock ticks since boot, so a reused pid is not taken for it)."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": process_started(os.getpid())}


def owner_alive(owner: dict | None) -> bool | None:
    """Whether the process recorded by :func:`process_owner` still runs; None when this
    machine cannot tell (another host, or nothing recorded)."""
    if not owner or owner.get("host") != socket.gethostname():
        return None
    pid = int(owner["pid"])
    if owner.get("started") is not None and Path("/proc/self/stat").exists():
        return process_started(pid) == owner["started"]
    return pid_alive(pid)
