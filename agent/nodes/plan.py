"""plan: decide the next round (task family, difficulty levels, number of tasks, samples, trainer) or stop."""

from __future__ import annotations

from typing import Any

from ..context import RunContext
from ..planner import plan_round
from ..state import RunState


def plan(state: RunState, ctx: RunContext) -> dict[str, Any]:
    round_no = state.get("round", 0) + 1
    family = ctx.family(ctx.config.tasks[(round_no - 1) % len(ctx.config.tasks)])
    levels = tuple(ctx.config.levels) if ctx.config.levels else family.levels
    decided = plan_round(ctx.config, round_no, state.get("level_stats", {}), levels)
    if not decided.stop:
        ctx.log(
            f"round {round_no}: plan: {decided.to_dict()['n_tasks']} {decided.family} tasks at levels "
            f"{decided.levels}, k={decided.samples_per_task} ({decided.reason})"
        )
    return {
        "round": round_no,
        "candidate": None,
        "current": {"round": round_no, "plan": decided.to_dict(), "counts": {}},
    }
