"""promote and rollback: end a round. Only the gate routes here; only `promote` changes the champion."""

from __future__ import annotations

import json
import shutil
from typing import Any

from ..context import RunContext
from ..rundir import atomic_write_text, write_jsonl
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
        "counts": counts,
        "eval": current.get("eval"),
        "train": train or None,
        "files": current.get("files", {}),
        "promoted": promoted,
        "champion": state["candidate"] if promoted else state["champion"],
    }


def _write_metrics(ctx: RunContext, history: list[dict[str, Any]]) -> None:
    write_jsonl(ctx.run.path / "metrics.jsonl", history)


def promote(state: RunState, ctx: RunContext) -> dict[str, Any]:
    candidate = state["candidate"]
    assert candidate is not None
    record = round_record(state, promoted=True)
    atomic_write_text(ctx.run.path / "champion", candidate + "\n")
    _write_metrics(ctx, [*state.get("history", []), record])
    ctx.log(f"round {record['round']}: promote: {candidate} is the new champion")
    # The curriculum's measurements were of the old champion: the next round measures the new one afresh.
    return {"champion": candidate, "candidate": None, "history": [record], "level_stats": {}}


def rollback(state: RunState, ctx: RunContext) -> dict[str, Any]:
    record = round_record(state, promoted=False)
    candidate = state.get("candidate")
    if candidate and not ctx.config.keep_candidates:
        ctx.forget(candidate)
        path = ctx.run.path / candidate
        # Weights go; the round's record (data files, numbers, decision) stays.
        for weights in list(path.glob("*.safetensors")) + list(path.glob("*.bin")):
            weights.unlink()
        if path.is_dir():
            atomic_write_text(path / "REJECTED.json", json.dumps({"round": record["round"], "weights": "deleted"}))
    elif candidate is None:
        shutil.rmtree(ctx.run.model_dir(record["round"]), ignore_errors=True)
    _write_metrics(ctx, [*state.get("history", []), record])
    ctx.log(f"round {record['round']}: rollback: the champion stays {state['champion']}")
    return {"candidate": None, "history": [record]}
