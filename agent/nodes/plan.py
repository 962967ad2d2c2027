"""plan: decide the next round (task family, difficulty levels, number of tasks, samples, trainer) or stop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ...tools.tasks import TaskFamily
from ..context import RunContext
from ..planning import PLANNERS
from ..planning.breadth import breadth_tasks
from ..planning.budget import Sizing, size_round, trained_rounds
from ..planning.clock import outside_seconds
from ..planning.curriculum import Plan, plan_round
from ..planning.desk import PlannerDesk
from ..planning.probe import measure_levels
from ..state import RunState
from ..trainer_choice import expected_method
from .blend import blend_reserve_s


def plan(state: RunState, ctx: RunContext) -> dict[str, Any]:
    cfg = ctx.config
    round_no = state.get("round", 0) + 1
    outside, reserve = outside_seconds(ctx)  # start-up, the transfer benchmark and the run's end: the same clock
    spent = float((state.get("usage") or {}).get("wall_s", 0.0))

    def sized(method: str | None = None) -> Sizing:
        history = state.get("history", [])
        left = cfg.budget.rounds - round_no + 1
        return size_round(cfg, history, spent + outside, reserve, method, blend_reserve_s(history, cfg), left)

    sizing = sized()
    desk = PlannerDesk(ctx, state, round_no, max_tasks=sizing.tasks or None)
    record: dict[str, Any] = {"kind": "curriculum"}
    decided = None
    planner = PLANNERS[cfg.agent.planner]
    if sizing.stop and round_no <= cfg.budget.rounds:
        family = cfg.tasks.families[(round_no - 1) % len(cfg.tasks.families)]
        decided = Plan(round=round_no, family=family, levels=[], tasks_per_level={}, samples_per_task=0,
                       trainer=cfg.training.trainer, stop=True, reason=sizing.stop)  # fmt: skip
    elif planner.plan is not None and round_no <= cfg.budget.rounds:
        decided, record = planner.plan(ctx, state, round_no, desk)
        if record["fallback"]:
            why = record["fallback"]["reason"]
            ctx.log(f"round {round_no}: plan: the {cfg.agent.planner} planner fell back to the curriculum: {why}")
    probe = None
    if decided is None:
        family = ctx.family(cfg.tasks.families[(round_no - 1) % len(cfg.tasks.families)])
        decided, probe, sizing = curriculum_plan(ctx, state, round_no, desk, family, sizing, sized)
    record["calls"] = desk.calls
    if not decided.stop:
        ctx.log(
            f"round {round_no}: plan: {decided.to_dict()['n_tasks']} {decided.family} tasks at levels "
            f"{decided.levels}, k={decided.samples_per_task} ({decided.reason})"
        )
    planned = decided.to_dict()
    if not decided.stop and cfg.tasks.breadth:
        levels_of = {name: ctx.family(name).levels for name in cfg.tasks.breadth}
        planned["breadth"] = breadth_tasks(cfg, planned["n_tasks"], levels_of)
        shown = ", ".join(f"{sum(v.values())} {name}" for name, v in planned["breadth"].items())
        ctx.log(f"round {round_no}: plan: for breadth, also {shown} tasks")
    current: dict[str, Any] = {"round": round_no, "plan": planned, "counts": {}, "planner": record}
    current.update(sizing=sizing.numbers, started_s=spent)
    if probe is not None:
        current["level_probe"] = probe
    return {"round": round_no, "candidate": None, "current": current}


def _last_method(state: RunState) -> str | None:
    """The method of the run's last training (None before any)."""
    trained = trained_rounds(state.get("history", []))
    return trained[-1]["train"].get("method") if trained else None


def curriculum_plan(
    ctx: RunContext,
    state: RunState,
    round_no: int,
    desk: PlannerDesk,
    family: TaskFamily,
    sizing: Sizing,
    sized: Callable[[str | None], Sizing],
) -> tuple[Plan, dict[str, list[int]] | None, Sizing]:
    """The curriculum planner's decision, filed through the same `plan_round` tool as the LLM's, the frontier
    probe it measured the champion with (None where it used the last acquire's figures), and the round's sizing:
    `sizing` (at the last training's step time), or `sized` again for the method the planned levels' figures
    say select will choose (a DPO step costs about three SFT steps: the arithmetic goal's round 2, sized at SFT
    steps as the last round, acquired for 620 s and left 345 s for 14 DPO steps, a third of a pass)."""
    cfg = ctx.config
    levels = tuple(cfg.tasks.levels) if cfg.tasks.levels else family.levels
    history = state.get("history", [])
    per_level = cfg.curriculum.frontier_probe if family.curriculum == "frontier" else 0
    if not per_level and history and history[-1].get("promoted"):
        # The last acquire measured the champion before it was replaced: a stronger one would be sent back to
        # levels it now masters (the arithmetic run practised L1 at "17%" with a champion that passed 87% of it).
        per_level = cfg.curriculum.promotion_probe
    probe = None
    if per_level and round_no <= cfg.budget.rounds:
        probe = measure_levels(ctx, family, levels, state["champion"], round_no, per_level)
    stats = state.get("level_stats", {}) if probe is None else probe
    decided = plan_round(cfg, round_no, stats, levels, family.curriculum, tasks=sizing.tasks)
    if decided.stop:
        return decided, probe, sizing
    method = expected_method(cfg.training.trainer, stats, decided.tasks_per_level, family.trainers)
    if sizing.tasks and method is not None and method != _last_method(state):
        resized = sized(method)
        if resized.tasks and not resized.stop:
            ctx.log(
                f"round {round_no}: plan: the champion's figures on the planned levels say select will choose "
                f"{method}: sized at its steps, {resized.tasks} tasks instead of {sizing.tasks}"
            )
            sizing, desk.max_tasks = resized, resized.tasks
            decided = plan_round(cfg, round_no, stats, levels, family.curriculum, tasks=sizing.tasks)
    if probe is not None and family.curriculum != "frontier":
        decided = replace(
            decided, reason=f"{decided.reason}; the new champion greedy on {per_level} fresh tasks per level"
        )
    desk.author = "curriculum"
    counts = {str(k): v for k, v in decided.tasks_per_level.items() if v > 0}
    arguments = {
        "family": decided.family,
        "levels": decided.levels,
        "tasks_per_level": counts,
        "samples_per_task": decided.samples_per_task,
        "trainer": decided.trainer,
        "reason": decided.reason,
    }
    verdict = desk.call("plan_round", arguments)
    if desk.plan is None:
        return replace(decided, stop=True, reason=f"the gate refused the curriculum's plan: {verdict}"), probe, sizing
    return desk.plan, probe, sizing
