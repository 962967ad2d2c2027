"""The curriculum planner: decides the next round from what the champion could do.

Two schedules, chosen by the task family (`TaskFamily.curriculum`):

- band: keep practice where the champion succeeded on 20-80% of last round's attempts: below that there is
  little verified data to learn from, above it the model learns little. It also practises the frontier, the
  first level harder than the band, so the band can move up; levels never tried are explored.
- frontier (easy-to-hard, after Lee et al. 2025): the plan measures the champion on fresh practice tasks at
  every level, and practises the first level it has not mastered (below `frontier_accuracy`), with verified
  labels also the next one, and replays the mastered levels. Its own labels there are good enough to learn
  from, and each promotion moves the frontier on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import RunConfig
from ..labels import label_filter

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


def choose_frontier(
    level_stats: dict[str, list[int]], all_levels: tuple[int, ...], mastered: float, ahead: int = 1
) -> tuple[list[int], list[int], str]:
    """The first level below `mastered` accuracy and the `ahead` levels after it, the mastered levels below them
    (replayed, so that practice at the frontier does not erase them), and why."""
    rates = {int(k): v[0] / v[1] for k, v in level_stats.items() if v[1] > 0}
    shown = ", ".join(f"L{k}={v:.0%}" for k, v in sorted(rates.items()))
    open_levels = [lvl for lvl in all_levels if rates.get(lvl, 0.0) < mastered]
    if not open_levels:
        why = f"champion accuracy per level {shown}: every level is mastered; keep the hardest"
        return [max(all_levels)], [], why
    first = open_levels[0]
    chosen = [lvl for lvl in all_levels if first <= lvl <= first + ahead]
    replay = [lvl for lvl in all_levels if lvl < first]
    why = (
        f"champion accuracy per level {shown}: L{first} is the first below {mastered:.0%}; practise "
        + " and ".join(f"L{lvl}" for lvl in chosen)
        + (f", replay L{replay[0]}-L{replay[-1]}" if replay else "")
    )
    return chosen, replay, why


def share(total: int, levels: list[int]) -> dict[int, int]:
    """`total` tasks spread evenly over `levels` (the first levels get the remainder)."""
    base, extra = divmod(total, max(1, len(levels)))
    return {lvl: base + (1 if i < extra else 0) for i, lvl in enumerate(levels)}


def plan_round(
    config: RunConfig,
    round_no: int,
    level_stats: dict[str, list[int]],
    levels: tuple[int, ...],
    curriculum: str = "band",
    tasks: int | None = None,
) -> Plan:
    """The round's plan: `tasks` practice tasks (default `tasks_per_round`) at the levels the curriculum picks, or a
    stop once every round is done."""
    tasks = tasks or config.sampling.tasks_per_round
    family = config.tasks.families[(round_no - 1) % len(config.tasks.families)]
    if round_no > config.budget.rounds:
        return Plan(
            round=round_no,
            family=family,
            levels=[],
            tasks_per_level={},
            samples_per_task=0,
            trainer=config.training.trainer,
            stop=True,
            reason=f"all {config.budget.rounds} rounds are done",
        )
    if curriculum == "frontier":
        # How far past the frontier practice may reach depends on how far the run's labels can be trusted.
        ahead = label_filter(config.selection.label_filter).ahead
        chosen, replay, why = choose_frontier(level_stats, levels, config.curriculum.frontier_accuracy, ahead)
        replayed = round(tasks * config.curriculum.replay_share) if replay else 0
        per_level = {**share(replayed, replay), **share(tasks - replayed, chosen)}
        chosen = sorted(per_level)
    else:
        chosen, why = choose_levels(level_stats, levels)
        per_level = share(tasks, chosen)
    return Plan(
        round=round_no,
        family=family,
        levels=chosen,
        tasks_per_level=per_level,
        samples_per_task=config.sampling.samples_per_task,
        trainer=config.training.trainer,
        stop=False,
        reason=why,
    )
