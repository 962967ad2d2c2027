"""The run's seconds outside the graph's nodes, which its wall budget counts too.

A run's nodes add their seconds to the state's `usage`. The wall budget is the user's clock from the command to
the final table, so the budget planner adds what the nodes do not see:

- each process's start-up, from the command's start to the graph's (imports, the goal's family match, the model's
  preparation, the held-out set: 6-7 s on 2 cores, 27 s in a machine's first run, which prepares the model from
  its GGUF file), recorded as `startup_s` in the run's `sessions.jsonl` (a resume counts its own);
- the transfer benchmark (`transfer.py`): the starting model's evaluation when the run was created, and the final
  champion's, held back;
- the end of a run after its last node (closing the workers, the trace and the report), held back as `FINISH_S`.
"""

from __future__ import annotations

import os
import time
from typing import Any

from ..transfer import transfer_seconds

FINISH_S = 5.0
"""What a run takes after its last node and its final benchmark: closing the sampling workers and the sandbox,
building the trace, writing the report and printing the final table (4.6 s on the proving ground, 4.6 s on the
default goal, 2 cores)."""


def process_started() -> float:
    """`time.monotonic()` when this process started (from /proc on Linux: the imports before any of our code ran
    take about a second), or now where that cannot be read."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            ticks = int(f.read().rpartition(")")[2].split()[19])  # field 22, starttime: clock ticks after boot
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        return time.monotonic() - max(0.0, uptime - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return time.monotonic()


def startup_seconds(started: float | None, transfer_s: float) -> float:
    """Seconds from `started` (`time.monotonic()` when the command began; None: not known) to now, less the
    `transfer_s` the transfer benchmark took meanwhile (counted on its own)."""
    if started is None:
        return 0.0
    return round(max(0.0, time.monotonic() - started - transfer_s), 1)


def startup_total(run: Any) -> float:
    """The start-up seconds of every session of the run (`startup_s` in `sessions.jsonl`)."""
    return round(sum(float(s.get("startup_s", 0.0)) for s in run.sessions()), 1)


def outside_seconds(ctx: Any) -> tuple[float, float]:
    """(seconds this run spent outside its nodes, seconds the end of the run will take outside them): what the
    budget planner adds to the nodes' time."""
    spent, reserve = transfer_seconds(ctx)
    return spent + startup_total(ctx.run), reserve + FINISH_S


def wall_left(ctx: Any, state: Any, in_node: float = 0.0) -> float | None:
    """Seconds the wall budget has left after `in_node` more seconds of the node in progress, less what the run's
    end holds back (None: no wall budget)."""
    limit = ctx.config.budget.wall_s
    if not limit:
        return None
    outside, reserve = outside_seconds(ctx)
    spent = float((state.get("usage") or {}).get("wall_s", 0.0)) + in_node + outside
    return round(limit - spent - reserve, 1)
