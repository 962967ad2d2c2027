"""Peak resident memory per graph node: Linux keeps a process's peak RSS (VmHWM), and resets it on request
(writing 5 to /proc/self/clear_refs), so each node's own peak is read, not the run's running maximum."""

from __future__ import annotations

import ctypes
import gc
import re
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR = Path("/proc/self/clear_refs")


GIVE_BACK_ABOVE_GB = 0.5
"""A node whose peak rose this far above the memory in use when it started gives memory back after it (a
collection costs about 0.12 s with torch and transformers loaded: not worth it after every small node)."""


def _status_gb(field: str) -> float | None:
    """A memory field of /proc/self/status (VmRSS, VmHWM), in GB (None where /proc does not tell)."""
    try:
        found = re.search(rf"{field}:\s+(\d+) kB", _STATUS.read_text())
    except OSError:
        return None
    return int(found.group(1)) / 2**20 if found else None


def in_use_gb() -> float | None:
    """This process's resident memory now, in GB (None where /proc does not tell)."""
    return _status_gb("VmRSS")


def give_back() -> None:
    """Free what a node left unreachable (a trainer's reference cycles) and hand the heap's free pages back to
    the kernel, which glibc keeps otherwise: after an SFT round of the default model, 2.5 GB in use -> 0.9 GB,
    and the next node's peak starts from there."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass


def reset_peak() -> None:
    """Start a new peak from the memory in use now (a no-op where the kernel does not allow it). The kernel keeps
    one high-water mark, so this also resets what `getrusage` and `/usr/bin/time -v` report as the maximum RSS:
    for a run, theirs is the peak since the last node began; the trace has every node's."""
    try:
        _CLEAR.write_text("5")
    except OSError:
        pass


def peak_gb() -> float | None:
    """This process's peak RSS since the last `reset_peak`, in GB (None where /proc does not tell)."""
    peak = _status_gb("VmHWM")
    return round(peak, 2) if peak is not None else None
