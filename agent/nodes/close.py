"""promote and rollback: end a round. Only the gate routes here; only `promote` changes the champion."""

from __future__ import annotations

import shutil
from typing import Any

from ..context import RunContext
from ..rundir import write_jsonl
from ..state import RunState


def round_record(state: RunState, promoted: bool) -> dict[str, Any]:
    current = state["current"]
    counts = {
        "tasks": 0,
        "attempts": 0,
        "verified": 0,
        "repaired": 0,
        "selected": 0,
        **current.get("counts", {}),
    }
    train = {k: v for k, v in current.get("train", {}).items() if k != "losses"}
    losses = current.get("train", {}).get("losses", [])
    if losses:
        train.update(first_loss=losses[0], last_loss=losses[-1])
    return {
        "round": current["round"],
        "plan": current["plan"],
        "method": current["trainer"]["method"] if "trainer" in current else None,
        "trainer": current.get("trainer"),
        "checkpoint": state.get("candidate"),
        "parent": state["champion"],
        "counts": counts,
        "eval": current.get("eval"),
        "blend": current.get("blend"),
        "train": train or None,
        "files": current.get("files", {}),
        "planner": current.get("planner"),
        "critic": current.get("critic"),
        "promoted": promoted,
        # The round's seconds in nodes (what the budget planner sizes the next round from).
        "spent_s": round(float((state.get("usage") or {}).get("wall_s", 0.0)) - current.get("started_s", 0.0), 1),
        "champion": state["candidate"] if promoted else state["champion"],
    }


def _write_metrics(ctx: RunContext, history: list[dict[str, Any]]) -> None:
    write_jsonl(ctx.run.metrics_file, history)


def promote(state: RunState, ctx: RunContext) -> dict[str, Any]:
    candidate = state["candidate"]
    assert candidate is not None
    record = round_record(state, promoted=True)
    store = ctx.run.store()
    store.decide(candidate, dict(state["decisions"][-1]), keep_weights=True)
    store.set_champion(candidate, reason=state["decisions"][-1]["reason"], round_no=record["round"])
    _write_metrics(ctx, [*state.get("history", []), record])
    ctx.log(f"round {record['round']}: promote: {candidate} is the new champion")
    served = ctx.serve(candidate)
    if served:
        ctx.log(f"round {record['round']}: promote: the backend's server serves the champion as {served}")
    # The curriculum keeps the old champion's figures per level as its prior for the new one (exploring every level
    # afresh after each promotion spent a round's samples on levels already known to be mastered or out of reach);
    # the next acquire measures the new champion.
    return {"champion": candidate, "candidate": None, "history": [record]}


def rollback(state: RunState, ctx: RunContext) -> dict[str, Any]:
    record = round_record(state, promoted=False)
    candidate = state.get("candidate")
    if candidate:
        ctx.forget(candidate)
        # Weights go (unless --keep-candidates); the lineage record, model card and the round's data stay.
        store = ctx.run.store()
        store.decide(candidate, dict(state["decisions"][-1]), keep_weights=ctx.config.training.keep_candidates)
    else:
        shutil.rmtree(ctx.run.model_dir(record["round"]), ignore_errors=True)
    _write_metrics(ctx, [*state.get("history", []), record])
    ctx.log(f"round {record['round']}: rollback: the champion stays {state['champion']}")
    return {"candidate": None, "history": [record]}
