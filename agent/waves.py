"""Sampling in waves: the round's attempts go where they teach.

A round plans `tasks x k` attempts. Instead of k attempts for every task at once, acquire samples a first wave of
about k/2 attempts per task, verifies them, and gives the rest of the budget, wave by wave, to the tasks that can
still teach something:

- a task with `enough` verified attempts (what select keeps per task) gets no more;
- a task that failed every attempt, at a level where the champion passes under `hopeless` of this round's
  attempts so far, gets no more (its samples would be wasted: no verified data, no pair, no GRPO group);
- first the tasks with mixed outcomes (the closest to half right first: each new attempt there is the likeliest
  to add a verified row and a preference pair), then the unsolved tasks at the levels the champion passes most;
- no task gets more than `cap` attempts in all.

`next_wave` is the rule; acquire runs the waves. With one sample per task (greedy families) there is one wave.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass


@dataclass
class Tally:
    """One task's attempts so far."""

    level: Hashable
    """The task's level (with its family, where a round mixes families)."""
    tries: int = 0
    passes: int = 0

    @property
    def mixed(self) -> bool:
        return 0 < self.passes < self.tries


def first_wave(k: int) -> int:
    """Attempts per task in the first wave: half of k (all of it when k is 1)."""
    return max(1, k // 2)


def level_rates(tallies: dict[str, Tally]) -> dict[Hashable, float]:
    """Per level, the share of this round's attempts that passed."""
    sums: dict[Hashable, list[int]] = {}
    for t in tallies.values():
        s = sums.setdefault(t.level, [0, 0])
        s[0] += t.passes
        s[1] += t.tries
    return {level: p / n if n else 0.0 for level, (p, n) in sums.items()}


def next_wave(
    tallies: dict[str, Tally], budget: int, *, per_task: int, enough: int, cap: int, hopeless: float = 0.05
) -> dict[str, int]:
    """Attempts each task gets in the next wave (at most `per_task` each, `budget` in all); empty when no task
    can still teach anything or nothing is left to spend."""
    rates = level_rates(tallies)

    def open_(t: Tally) -> bool:
        if t.passes >= enough or t.tries >= cap:
            return False
        return not (t.passes == 0 and rates.get(t.level, 0.0) < hopeless)

    mixed = sorted((tid for tid, t in tallies.items() if open_(t) and t.passes > 0),
                   key=lambda tid: abs(tallies[tid].passes / tallies[tid].tries - 0.5))  # fmt: skip
    unsolved = sorted((tid for tid, t in tallies.items() if open_(t) and t.passes == 0),
                      key=lambda tid: -rates.get(tallies[tid].level, 0.0))  # fmt: skip
    wave: dict[str, int] = {}
    left = budget
    for tid in mixed + unsolved:
        if left <= 0:
            break
        give = min(per_task, cap - tallies[tid].tries, left)
        if give > 0:
            wave[tid] = give
            left -= give
    return wave


def useful_share(tallies: dict[str, Tally]) -> float:
    """The share of the round's attempts that were on tasks with mixed outcomes (the ones that teach most)."""
    total = sum(t.tries for t in tallies.values())
    return sum(t.tries for t in tallies.values() if t.mixed) / total if total else 0.0
