"""train: fine-tune the champion with the method select chose; the result is this round's candidate.

After training, the candidate samples a few practice prompts so the gate can compare its outputs with the
champion's (collapse of length or diversity), and the checkpoint store records the candidate's lineage.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
from pathlib import Path
from typing import Any

from ...tools.codeblock import truncate_after_code
from ...tools.generate import SamplingParams
from ...trainers import PARAMS, TRAINERS, GRPOParams, TrainingError, TrainParams
from ...trainers.common import learning_rate
from ...trainers.processes import train_in_processes
from ..config import RunConfig
from ..context import RunContext
from ..memory import give_back
from ..planning.budget import after_training_s, longest, smallest_round_s, step_seconds
from ..planning.clock import wall_left
from ..rundir import read_jsonl
from ..state import RunState, TrainRecord, files_of
from .blend import blend_reserve_s


def method_params(
    method: str, cfg: RunConfig, n_items: int, round_no: int, max_steps: int | None = None
) -> TrainParams:
    """The hyper-parameters of `method` for a round with `n_items` rows, pairs or prompts: the run's settings
    (the learning rate, when the run sets one, reaches every trainer), fewer epochs when the step budget
    (`max_steps`, else `training.max_steps_per_round`) does not cover them, then the user's overrides for that
    method."""
    training = cfg.training
    cap = max_steps or training.max_steps_per_round
    common: dict[str, Any] = {
        "batch_size": training.batch_size,
        "micro_batch_size": training.micro_batch_size,
        "bf16": training.bf16,
        "seed": cfg.seed + round_no,
        "adapter": training.adapter,
        "lora_output": training.lora_output,
    }
    if training.learning_rate is not None:  # the user's rate, as given, whether the model is trained whole or not
        common["learning_rate"] = common["lora_learning_rate"] = training.learning_rate
    overrides = training.params.get(method, {})
    if not issubclass(PARAMS[method], GRPOParams):  # offline methods: epochs over the data
        epochs = min(training.epochs, cap * training.batch_size_of(method) / max(1, n_items))
        return dataclasses.replace(PARAMS[method](**common, epochs=round(epochs, 3)), **overrides)
    sampling = cfg.sampling
    params: Any = PARAMS[method](
        **common, max_completion_length=sampling.max_new_tokens, temperature=sampling.temperature
    )
    params = dataclasses.replace(params, **overrides)
    # Each step samples batch_size completions (batch_size / num_generations prompts): cap the steps.
    per_epoch = math.ceil(n_items * params.num_generations / params.batch_size)
    steps = min(cap, math.ceil(params.epochs * per_epoch))
    return params if params.max_steps > 0 else dataclasses.replace(params, max_steps=steps)


MIN_TRAIN_S = 60.0
"""Training always gets at least this long, or as long as this run's shortest training so far if that was shorter
(a round that trained for less would teach nothing; the addition family's rounds teach in 10-25 s, and a last
round held to 60 s ended the proving ground 21 s past its 600)."""
AFTER_TRAIN_S = 150.0
"""What the rest of a round (probe, evaluation, guard) takes before this run has measured it."""


def training_seconds(state: RunState, ctx: RunContext, method: str | None = None) -> float:
    """How long training with `method` (None: the last training's) may take so that the rest of the round and the
    final benchmark still fit the wall budget (0: no wall budget). The rest of the round is the most the earlier
    rounds took after their training (`budget.after_training_s`); the run's last round also keeps the time of a
    blend and its evaluation (`blend.blend_reserve_s`), which it uses only if its candidate forgets."""
    left = wall_left(ctx, state)
    if left is None:
        return 0.0
    history = state.get("history", [])
    rest = longest(history, after_training_s)
    trained = [r["train"]["duration_s"] for r in history if (r.get("train") or {}).get("duration_s")]
    least = min([MIN_TRAIN_S, *trained])
    seconds = left - (AFTER_TRAIN_S if rest is None else rest)
    per_step = step_seconds(history, method)
    if per_step and last_round(state, ctx, seconds, per_step):
        seconds -= blend_reserve_s(history, ctx.config)
    return round(max(least, seconds), 1)


STEP_MARGIN = 1.0
"""The share of the training seconds that a last round's steps are planned to fill. Training stops at its seconds
whatever the steps (`max_seconds`), so a step slower than measured costs only the last steps. At 0.9, the default
goal's last rounds stopped 20-30 s before their seconds, which the run then left unused."""


def last_round(state: RunState, ctx: RunContext, seconds: float, per_step: float) -> str | None:
    """Why no further round fits after this one, whose training may take `seconds` at `per_step` seconds per
    step, or None: the plan sized it as the last (it took fewer tasks so that it could train on them for longer),
    or what is left after training to the step cap would not hold the smallest further round."""
    if ((state.get("current") or {}).get("sizing") or {}).get("rounds_that_fit") == 1:
        return "the plan sized it as the last"
    next_round = smallest_round_s(ctx.config, state.get("history", []))
    if next_round is None or seconds - ctx.config.training.max_steps_per_round * per_step >= next_round:
        return None
    return f"another round would need {next_round:.0f} s"


def step_budget(state: RunState, ctx: RunContext, seconds: float, method: str) -> tuple[int, str]:
    """The most optimizer steps this round may take, and why. `training.max_steps_per_round` as a rule; in a round
    after which no further round fits the wall budget, as many as fit in the `seconds` training may take, at the
    seconds per step this run measured for `method` (before it trained with `method`: its other method's steps,
    scaled by `budget.STEP_COST`; a DPO step of the default model costs about three SFT steps), since time it
    leaves unused buys nothing."""
    cap = ctx.config.training.max_steps_per_round
    rule = f"{cap} steps at most (training.max_steps_per_round)"
    history = state.get("history", [])
    if not seconds:
        return cap, rule
    per_step = step_seconds(history, method)
    if per_step is None:
        return cap, f"{rule}: no step timed in this run yet"
    why = last_round(state, ctx, seconds, per_step)
    if why is None:
        return cap, f"{rule}: {seconds - cap * per_step:.0f} s would be left for another round"
    steps = int(STEP_MARGIN * seconds / per_step)
    if steps <= cap:
        return cap, rule
    kept = blend_reserve_s(history, ctx.config)
    return steps, (
        f"the last round that fits: up to {steps} steps in the {seconds:.0f} s left for training at {per_step:.1f} s "
        f"per step ({why}{f'; {kept:.0f} s kept for a blend' if kept else ''})"
    )


def affordable_steps(state: RunState, ctx: RunContext, method: str) -> float | None:
    """The optimizer steps of `method` that the seconds this round's training may take (`training_seconds`) hold
    at this run's seconds per step, whatever the step cap (which only a last round lifts, `step_budget`). None
    without a wall budget or before any step was timed."""
    seconds = training_seconds(state, ctx, method)
    per_step = step_seconds(state.get("history", []), method)
    if not seconds or not per_step:
        return None
    return seconds / per_step


def _text_stats(texts: list[str]) -> dict[str, float]:
    return {
        "mean_chars": round(sum(len(t) for t in texts) / max(1, len(texts)), 1),
        "distinct": round(len(set(texts)) / max(1, len(texts)), 3),
    }


def probe(ctx: RunContext, files: dict[str, str], candidate: str, round_no: int) -> dict[str, Any]:
    """The candidate's and the champion's sampled outputs on the same practice prompts, summarised."""
    cfg = ctx.config
    tasks = {t["id"]: t for t in read_jsonl(ctx.run.path / files["tasks"])}
    first: dict[str, str] = {}
    for a in read_jsonl(ctx.run.path / files["attempts"]):
        if a["sample"] == 0 and len(first) < cfg.gate.probe_prompts:
            first[a["task_id"]] = truncate_after_code(a["completion"]).strip()
    params = SamplingParams(
        n=1,
        temperature=cfg.sampling.temperature,
        max_new_tokens=cfg.sampling.max_new_tokens,
        seed=cfg.seed + 13 * round_no,
    )
    replies = ctx.generator(candidate).complete([tasks[tid]["prompt"] for tid in first], params)
    return {
        "prompts": len(first),
        "champion": _text_stats(list(first.values())),
        "candidate": _text_stats([truncate_after_code(r).strip() for (r,) in replies]),
    }


def train(state: RunState, ctx: RunContext) -> dict[str, Any]:
    cfg, round_no = ctx.config, state["round"]
    current = state["current"].copy()
    method = current["trainer"]["method"]
    trainer = TRAINERS[method]
    files = files_of(current)
    data_file = ctx.run.path / files[trainer.data]
    items = read_jsonl(data_file)
    output = ctx.run.model_dir(round_no)
    # A run killed during training leaves temporary directories behind; they hold nothing worth keeping.
    for leftover in output.parent.glob(f".{output.name}-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    seconds = training_seconds(state, ctx, method)
    # The round's seconds before training: the rest of the round, measured from here, is what later rounds reserve.
    began = round(float((state.get("usage") or {}).get("wall_s", 0.0)) - current.get("started_s", 0.0), 1)
    max_steps, steps_why = step_budget(state, ctx, seconds, method)
    params = method_params(method, cfg, len(items), round_no, max_steps)
    # Both rates are written down: the trainer uses the one for the adapter it chooses (`choose_adapter`).
    params = dataclasses.replace(params, lora_learning_rate=learning_rate(params, "lora"))
    params = dataclasses.replace(params, **current.get("retry_params", {}))  # a retry after a failed fit
    if seconds and "max_seconds" not in cfg.training.params.get(method, {}):  # the user's own limit wins
        params = dataclasses.replace(params, max_seconds=seconds)
    ctx.log(f"round {round_no}: train: {method} on {len(items)} {trainer.data}, {steps_why} ({params.to_dict()})")
    base, logs = ctx.resolve(state["champion"]), ctx.run.log_dir(round_no)
    common: dict[str, Any] = {"base": base, "output_dir": output, "log_dir": logs, "progress": not ctx.quiet}
    ctx.release_samplers()
    try:
        if cfg.training.processes > 1:
            result = train_in_processes(
                method, processes=cfg.training.processes, items=items, params=params, sandbox=cfg.sandbox, **common
            )
        else:
            result = trainer.train(items=items, params=params, verify_all=ctx.verify_all, **common)
    except TrainingError as exc:
        current["train"] = {"method": method, "error": str(exc), "rows": len(items), "params": params.to_dict()}
        return {"current": current, "candidate": None}
    ctx.usage["train_steps"] += result.steps
    candidate = ctx.run.relative(output)
    record: TrainRecord = {
        "method": method,
        "adapter": result.adapter,
        "rows": result.rows,
        "steps": result.steps,
        "losses": result.losses,
        "metrics": result.metrics,
        "duration_s": round(result.duration_s, 1),
        "train_tokens": result.train_tokens,
        "threads": result.threads,
        "params": params.to_dict(),
        "step_budget": {"max_steps": max_steps, "why": steps_why, "seconds": seconds},
        "began_s": began,
        "logs": ctx.run.relative(logs),
        "checkpoint": candidate,
    }
    if cfg.gate.probe_prompts > 0:
        give_back()  # the trainer's reference cycles, before the probe loads the candidate
        record["probe"] = probe(ctx, files, candidate, round_no)
    current["train"] = record
    ctx.run.store().register(
        candidate,
        parent=state["champion"],
        round_no=round_no,
        goal=cfg.goal,
        method=method,
        adapter=result.adapter,
        params=params.to_dict(),
        data=[data_file, *origin_files(ctx.run.path, items, files)],
        metrics={
            k: record[k] for k in ("steps", "losses", "metrics", "duration_s", "train_tokens", "probe") if k in record
        },
    )
    ctx.log(
        f"round {round_no}: train: {method}, {result.steps} steps in {result.duration_s:.0f} s, "
        f"loss {result.losses[0]:.3f} -> {result.losses[-1]:.3f}"
    )
    return {"current": current, "candidate": candidate}


def origin_files(root: Path, items: list[dict[str, Any]], files: dict[str, str]) -> list[Path]:
    """The attempt and repair files the training items came from (GRPO's prompts: the round's tasks)."""
    names = sorted({item["origin"].rsplit(":", 1)[0] for item in items if "origin" in item})
    if not names:
        names = [files["tasks"]]
    return [root / name for name in names]
