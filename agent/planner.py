"""The curriculum planner: decides the next round from what the champion could do in the last one.

It keeps practice where the champion succeeds on 20-80% of attempts: below that there is little verified
data to learn from, above it the model learns little. It also practises the frontier, the first level harder
than the band, so the band can move up; levels never tried are explored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .config import RunConfig

BAND = (0.2, 0.8)


@dataclass(frozen=True, kw_only=True)
class Plan:
    round: int
    family: str
    levels: list[int]
    tasks_per_level: dict[int, int]
    samples_per_task: int
    trainer: str
    stop: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "family": self.family,
            "levels": self.levels,
            "tasks_per_level": {str(k): v for k, v in self.tasks_per_level.items()},
            "n_tasks": sum(self.tasks_per_level.values()),
            "samples_per_task": self.samples_per_task,
            "trainer": self.trainer,
            "stop": self.stop,
            "reason": self.reason,
        }


def choose_levels(level_stats: dict[str, list[int]], all_levels: tuple[int, ...]) -> tuple[list[int], str]:
    """The levels to practise, and why."""
    rates = {int(k): v[0] / v[1] for k, v in level_stats.items() if v[1] > 0}
    if not rates:
        return list(all_levels), "no measurements yet: explore every level"
    in_band = [lvl for lvl in all_levels if lvl in rates and BAND[0] <= rates[lvl] <= BAND[1]]
    untried = [lvl for lvl in all_levels if lvl not in rates]
    harder = [lvl for lvl in all_levels if in_band and lvl > max(in_band) and rates.get(lvl, 0) < BAND[0]]
    frontier = harder[:1]
    chosen = sorted(set(in_band + frontier + untried))
    shown = ", ".join(f"L{k}={v:.0%}" for k, v in sorted(rates.items()))
    if chosen:
        return chosen, (
            f"champion success per level {shown}: practise the 20-80% band"
            + (f" and the frontier L{frontier[0]}" if frontier else "")
            + (" and untried levels" if untried else "")
        )
    # Nothing in the band: take the hardest level that is not already mastered, else the hardest.
    below = [lvl for lvl in all_levels if rates.get(lvl, 0) < BAND[0]]
    pick = min(below) if below else max(all_levels)
    return [pick], f"champion success per level {shown}: none in the 20-80% band, closest is L{pick}"


def plan_round(config: RunConfig, round_no: int, level_stats: dict[str, list[int]], levels: tuple[int, ...]) -> Plan:
    family = config.tasks[(round_no - 1) % len(config.tasks)]
    if round_no > config.rounds:
        return Plan(
            round=round_no,
            family=family,
            levels=[],
            tasks_per_level={},
            samples_per_task=0,
            trainer="sft",
            stop=True,
            reason=f"all {config.rounds} rounds are done",
        )
    chosen, why = choose_levels(level_stats, levels)
    base, extra = divmod(config.tasks_per_round, len(chosen))
    per_level = {lvl: base + (1 if i < extra else 0) for i, lvl in enumerate(chosen)}
    return Plan(
        round=round_no,
        family=family,
        levels=chosen,
        tasks_per_level=per_level,
        samples_per_task=config.samples_per_task,
        trainer="sft",
        stop=False,
        reason=why,
    )
