"""The trainer of a round, chosen at select from the round's data (the plan may name one; `auto` leaves it here).

`data_diagnostics` says what the data offers each trainer; `choose_trainer` picks among those the task family
allows, and says why (the reason goes into the trace).
"""

from __future__ import annotations

from typing import Any

from .config import RunConfig


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
    requested: str,
    d: dict[str, Any],
    config: RunConfig,
    allowed: tuple[str, ...] = ("sft", "dpo", "grpo"),
    dpo_steps: float | None = None,
) -> tuple[str, str]:
    """The trainer for this round's data among those the task family allows, and why (see `_by_data`).
    `dpo_steps`: the DPO steps the round's training time affords (None: not known, no wall budget)."""
    if requested != "auto":
        return requested, f"--trainer {requested} (data: {d['positives']} verified rows, {d['pairs']} pairs)"
    method, reason = _by_data(d, config, dpo_steps)
    if method not in allowed:
        return allowed[0], f"{reason}; but the task family trains with {', '.join(allowed)}: {allowed[0]}"
    return method, reason


IMITATE_BELOW = 0.5
"""The champion's pass rate on a round's attempts below which its verified answers are imitated (SFT), and from
which its mistakes are contrasted with them (DPO)."""


SURE_BY = 0.1
"""How far from `IMITATE_BELOW` the champion's figures must be for a guess of select's method: the plan's figures
are often greedy answers (the probe) where the attempts are sampled (at 0.8 by default) and pass less, and on the
default goal, seed 3's round-2 attempts passed 43%, close to the threshold."""


def expected_method(
    requested: str, level_stats: dict[str, list[int]], tasks_per_level: dict[int, int], allowed: tuple[str, ...]
) -> str | None:
    """The offline method select will likely choose for a planned round, from the champion's measured (passes,
    tries) per level weighted by the plan's tasks per level; None where there is no sure guess (within `SURE_BY`
    of the threshold, nothing measured, a method the family does not train with, GRPO). On the arithmetic goal's
    round 2 the probe's figures gave 62% for the planned levels, and the attempts passed 61%."""
    if requested != "auto":
        return requested if requested in ("sft", "dpo") else None
    rated = {lvl: n for lvl, n in tasks_per_level.items() if level_stats.get(str(lvl), [0, 0])[1] > 0}
    if not rated:
        return None
    stats = {lvl: level_stats[str(lvl)] for lvl in rated}
    rate = sum(n * stats[lvl][0] / stats[lvl][1] for lvl, n in rated.items()) / sum(rated.values())
    if abs(rate - IMITATE_BELOW) < SURE_BY:
        return None
    method = "sft" if rate < IMITATE_BELOW else "dpo"
    return method if method in allowed else None


def _by_data(d: dict[str, Any], config: RunConfig, dpo_steps: float | None = None) -> tuple[str, str]:
    """The training method for this round's data, and why.

    - SFT (rejection sampling) while the champion fails most attempts: its verified answers are what it lacks.
    - DPO once it passes most attempts and there are enough (failed, verified) pairs: imitating answers it
      already gives teaches little; contrasting them with its remaining mistakes teaches more.
    - GRPO when there are too few verified answers for offline training but enough tasks it sometimes solves:
      the sandbox rewards fresh samples online, where a group with mixed outcomes has something to teach.
    - SFT again when the training time left affords DPO less than one pass over its pairs (`dpo_steps`): a DPO
      step costs about three SFT steps (`planning/budget.STEP_COST`). On the default goal's seed 6, a last round
      whose attempts passed 52% trained 12 DPO steps over 177 pairs in 137 s (loss 0.693 -> 0.668) and its
      candidate gained 2 held-out tasks (p = 0.25); the rounds before it gained 17 and 19 with SFT.
    """
    rate = f"the champion passes {d['mean_pass_rate']:.0%} of attempts"
    enough_rows = d["positives"] >= config.gate.min_rows
    if enough_rows and d["mean_pass_rate"] < IMITATE_BELOW:
        return "sft", f"{rate}: imitate its {d['positives']} verified answers (rejection-sampling SFT)"
    if d["pairs"] >= config.gate.min_pairs:
        one_pass = d["pairs"] / max(1, config.training.batch_size_of("dpo"))
        if enough_rows and dpo_steps is not None and dpo_steps < one_pass:
            return "sft", (
                f"{rate}, but the training time left affords {dpo_steps:.0f} DPO steps, less than one pass over its "
                f"{d['pairs']} pairs ({one_pass:.0f} steps): imitate its {d['positives']} verified answers (SFT)"
            )
        return "dpo", f"{rate}: contrast its mistakes with its verified answers ({d['pairs']} pairs, DPO)"
    if d["positives"] < config.gate.min_rows and d["grpo_prompts"] >= config.gate.min_grpo_tasks:
        return "grpo", (
            f"only {d['positives']} verified rows, but {d['grpo_prompts']} tasks with mixed outcomes: "
            "reward fresh samples online (GRPO)"
        )
    return "sft", f"{rate}; {d['pairs']} pairs (< {config.gate.min_pairs}): imitate the verified answers (SFT)"
