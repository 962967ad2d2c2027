"""train: fine-tune the champion on the selected rows; the result is this round's candidate."""

from __future__ import annotations

import shutil
from typing import Any

from ...trainers import SFTParams, TrainingError, train_sft
from ..context import RunContext
from ..rundir import read_jsonl
from ..state import RunState


def train(state: RunState, ctx: RunContext) -> dict[str, Any]:
    cfg, round_no = ctx.config, state["round"]
    current = dict(state["current"])
    rows = read_jsonl(ctx.run.path / current["files"]["selected"])
    output = ctx.run.model_dir(round_no)
    # A run killed during training leaves temporary directories behind; they hold nothing worth keeping.
    for leftover in output.parent.glob(f".{output.name}-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    # Bound the round's training time: with more rows than the step budget covers, train fewer epochs.
    epochs = min(cfg.epochs, cfg.max_steps_per_round * cfg.train_batch_size / len(rows))
    ctx.log(f"round {round_no}: train: SFT on {len(rows)} rows, {epochs:.2g} epochs")
    params = SFTParams(
        epochs=round(epochs, 3),
        learning_rate=cfg.learning_rate,
        batch_size=cfg.train_batch_size,
        bf16=cfg.bf16,
        seed=cfg.seed + round_no,
    )
    try:
        result = train_sft(
            base=ctx.resolve(state["champion"]),
            rows=rows,
            output_dir=output,
            params=params,
            progress=not ctx.quiet,
        )
    except TrainingError as exc:
        current["train"] = {"error": str(exc), "rows": len(rows)}
        return {"current": current, "candidate": None}
    current["train"] = {
        "method": "sft",
        "rows": result.rows,
        "steps": result.steps,
        "losses": result.losses,
        "duration_s": round(result.duration_s, 1),
        "train_tokens": result.train_tokens,
        "params": params.__dict__,
    }
    ctx.log(
        f"round {round_no}: train: {result.steps} steps in {result.duration_s:.0f} s, "
        f"loss {result.losses[0]:.3f} -> {result.losses[-1]:.3f}"
    )
    return {"current": current, "candidate": str(output.relative_to(ctx.run.path))}
