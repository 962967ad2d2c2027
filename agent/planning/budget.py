"""Rounds sized to the wall budget from the rates this run has measured.

A run carries a wall budget (`budget.wall_s`, 30 minutes by default): the seconds its nodes may spend. Each
round's size comes from the last rounds' own figures: attempts per second in acquire (sampling and
verification), and the rest of a round (refine, select, train, evaluate) as a fixed cost. Rounds go on while the
next one fits, with what the end of the run needs (the transfer benchmark of the final champion) held back:

- round 1 has no measurements: it takes the configured size (`sampling.tasks_per_round`);
- later rounds: as many rounds of about the configured size as still fit, stretched to use all the time left;
- when not even a small round (a quarter of the configured tasks) fits, the run stops, and says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..config import RunConfig

GROWTH = 4
"""A round is at most this many times the configured size (a budget measured in hours is spent in rounds)."""

HELDOUT_PER_BUDGET = 900
"""Wall seconds of budget per `evaluation.heldout_tasks` of held-out tasks (200 for the default 30 minutes).

At 100 tasks the gate could not see the gains a 30-minute run's later rounds make: on the default goal, candidates
of 49, 51 and 52 against champions of 45 and 47 had p = 0.11 or more and were rolled back. 200 tasks give twice
the discordant pairs at the same rates (7% gained and 2% lost: p = 0.015 on 200 tasks, 0.09 on 100), and 54
unseen-template tasks instead of 27. The price: a hundred more greedy answers for the start and each candidate."""


def heldout_for_budget(config: RunConfig) -> int:
    """The held-out set's size for the run's wall budget, when neither the user nor the family chose one: the
    configured size for each 15 minutes (at most 4 times it), so a longer run can see a smaller real gain. A
    round evaluates one candidate on it; at about 0.2-0.7 s per greedy answer here, 100 tasks cost 20-70 s."""
    base, wall = config.evaluation.heldout_tasks, config.budget.wall_s
    if not wall:
        return base
    return base * max(1, min(GROWTH, round(wall / HELDOUT_PER_BUDGET)))


@dataclass(frozen=True)
class Sizing:
    tasks: int
    """Practice tasks for the round."""
    stop: str | None = None
    """Why no further round fits, or None."""
    numbers: dict[str, Any] = field(default_factory=dict)
    """The rates and times the sizing used, for the plan decision."""


def _measured(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in history if (r.get("counts") or {}).get("acquire_s") and r.get("spent_s")]


def _rates(measured: list[dict[str, Any]]) -> tuple[float, float]:
    """(attempts per second in the last measured acquire, seconds of a round outside acquire)."""
    last = measured[-1]["counts"]
    # The rest of a round: from rounds that went as far as evaluation (one that stopped early did not train).
    whole = [r for r in measured if r.get("eval")] or measured
    return last["attempts"] / last["acquire_s"], max(r["spent_s"] - r["counts"]["acquire_s"] for r in whole)


def smallest_round_s(config: RunConfig, history: list[dict[str, Any]]) -> float | None:
    """Seconds the smallest further round would take at this run's measured rates (None before any): what the
    plan requires to start another round."""
    measured = _measured(history)
    if not measured:
        return None
    return _smallest_s(config, *_rates(measured))


def _smallest_s(config: RunConfig, rate: float, overhead: float) -> float:
    return overhead + max(1, config.sampling.tasks_per_round // 4) * config.sampling.samples_per_task / rate


def size_round(config: RunConfig, history: list[dict[str, Any]], spent_s: float, reserve_s: float = 0.0) -> Sizing:
    """The size of the next round under the wall budget, given the finished rounds, the seconds spent so far and
    the seconds to hold back for the end of the run."""
    default = config.sampling.tasks_per_round
    limit = config.budget.wall_s
    if not limit:
        return Sizing(default)
    remaining = limit - spent_s - reserve_s
    numbers: dict[str, Any] = {"wall_budget_s": limit, "spent_s": round(spent_s, 1), "reserved_s": round(reserve_s, 1)}
    measured = _measured(history)
    if not measured:
        return Sizing(default, numbers={**numbers, "remaining_s": round(remaining, 1), "rates": "none yet"})
    k = config.sampling.samples_per_task
    rate, overhead = _rates(measured)
    smallest = max(1, default // 4)
    numbers.update(remaining_s=round(remaining, 1), attempts_per_s=round(rate, 3), other_stages_s=round(overhead, 1))
    needed = _smallest_s(config, rate, overhead)
    if remaining < needed:
        why = (
            f"the next round does not fit the wall budget: about {needed:.0f} s needed, {max(remaining, 0):.0f} s left"
        )
        return Sizing(0, stop=why, numbers=numbers)
    usual = overhead + default * k / rate
    fits = max(1, math.floor(remaining / usual))
    tasks = int((remaining / fits - overhead) * rate / k)
    tasks = max(smallest, min(GROWTH * default, tasks))
    numbers.update(rounds_that_fit=fits, tasks=tasks, predicted_s=round(overhead + tasks * k / rate, 1))
    return Sizing(tasks, numbers=numbers)
