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
) -> Plan:
    family = config.tasks[(round_no - 1) % len(config.tasks)]
    if round_no > config.rounds:
        return Plan(
            round=round_no,
            family=family,
            levels=[],
            tasks_per_level={},
            samples_per_task=0,
            trainer=config.trainer,
            stop=True,
            reason=f"all {config.rounds} rounds are done",
        )
    if curriculum == "frontier":
        # Verified labels are right at any level, so practice may reach a level ahead; majority labels there
        # are mostly the model agreeing with its own mistakes (measured: 2-3% right two levels out).
        ahead = 1 if config.label_filter == "verified" else 0
        chosen, replay, why = choose_frontier(level_stats, levels, config.frontier_accuracy, ahead)
        replayed = round(config.tasks_per_round * config.replay_share) if replay else 0
        per_level = {**share(replayed, replay), **share(config.tasks_per_round - replayed, chosen)}
        chosen = sorted(per_level)
    else:
        chosen, why = choose_levels(level_stats, levels)
        per_level = share(config.tasks_per_round, chosen)
    return Plan(
        round=round_no,
        family=family,
        levels=chosen,
        tasks_per_level=per_level,
        samples_per_task=config.samples_per_task,
        trainer=config.trainer,
        stop=False,
        reason=why,
    )


def data_diagnostics(outcomes: dict[str, list[bool]], rows: int, pairs: int, prompts: int) -> dict[str, Any]:
    """What the round's data offers each trainer. `outcomes` maps each task of the round to its attempts'
    verdicts; `rows`, `pairs`, `prompts` are what select built for SFT, DPO and GRPO."""
    rates = [sum(v) / len(v) for v in outcomes.values() if v]
    mean = sum(rates) / len(rates) if rates else 0.0
    spread = (sum((r - mean) ** 2 for r in rates) / len(rates)) ** 0.5 if rates else 0.0
    return {
        "tasks": len(rates),
        "mean_pass_rate": round(mean, 4),
        "pass_rate_spread": round(spread, 4),
        "mixed_tasks": sum(1 for r in rates if 0 < r < 1),
        "solved_tasks": sum(1 for r in rates if r > 0),
        "positives": rows,
        "pairs": pairs,
        "grpo_prompts": prompts,
    }


def choose_trainer(
    requested: str, d: dict[str, Any], config: RunConfig, allowed: tuple[str, ...] = ("sft", "dpo", "grpo")
) -> tuple[str, str]:
    """The trainer for this round's data among those the task family allows, and why (see `_by_data`)."""
    if requested != "auto":
        return requested, f"--trainer {requested} (data: {d['positives']} verified rows, {d['pairs']} pairs)"
    method, reason = _by_data(d, config)
    if method not in allowed:
        return allowed[0], f"{reason}; but the task family trains with {', '.join(allowed)}: {allowed[0]}"
    return method, reason


def _by_data(d: dict[str, Any], config: RunConfig) -> tuple[str, str]:
    """The training method for this round's data, and why.

    - SFT (rejection sampling) while the champion fails most attempts: its verified answers are what it lacks.
    - DPO once it passes most attempts and there are enough (failed, verified) pairs: imitating answers it
      already gives teaches little; contrasting them with its remaining mistakes teaches more.
    - GRPO when there are too few verified answers for offline training but enough tasks it sometimes solves:
      the sandbox rewards fresh samples online, where a group with mixed outcomes has something to teach.
    """
    rate = f"the champion passes {d['mean_pass_rate']:.0%} of attempts"
    if d["positives"] >= config.min_rows and d["mean_pass_rate"] < 0.5:
        return "sft", f"{rate}: imitate its {d['positives']} verified answers (rejection-sampling SFT)"
    if d["pairs"] >= config.min_pairs:
        return "dpo", f"{rate}: contrast its mistakes with its verified answers ({d['pairs']} pairs, DPO)"
    if d["positives"] < config.min_rows and d["grpo_prompts"] >= config.min_grpo_tasks:
        return "grpo", (
            f"only {d['positives']} verified rows, but {d['grpo_prompts']} tasks with mixed outcomes: "
            "reward fresh samples online (GRPO)"
        )
    return "sft", f"{rate}; {d['pairs']} pairs (< {config.min_pairs}): imitate the verified answers (SFT)"
