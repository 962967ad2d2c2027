"""blend: a candidate that forgot is moved halfway back to the champion, and evaluated again.

The gate after evaluate routes here when a candidate lost more of the guard set than `gate.guard_tolerance` allows
and was significantly better on the held-out set, or was not evaluated on it: evaluate checks the guard set first
and leaves the held-out set to the blend when the blend is sure to follow (`why_not_blend`), since a candidate that
forgot is never promoted. The blend (`trainers/blend.py`: champion + `BLEND_ALPHA` x
(candidate - champion)) becomes the round's candidate, with a lineage record of its own; the candidate it came
from is decided on (rejected, its weights gone unless `--keep-candidates`); the first evaluation's figures and
seconds stay in the round's record (`blend`). The gate then judges the blend by the same criteria.
"""

from __future__ import annotations

import shutil
import time
from typing import Any

from ...trainers.blend import blend as blend_weights
from ..config import RunConfig
from ..context import RunContext
from ..state import RunState

BLEND_ALPHA = 0.5
"""How far the blend keeps the candidate's change. Seed 3's round 1 (82 of 200 against 64, guard 25 of 31): at 0.5,
79 of 200 and guard 30 of 31; near 0.75 (the output layer, tied to the embeddings, moved further), 81 and 28."""

BLEND_S = 10.0
"""Seconds to write a blend of the default model (load both, blend, save: 4-6 s on 2 cores), besides its
evaluation."""


def blend_reserve_s(history: list[dict[str, Any]], config: RunConfig) -> float:
    """Seconds a run's last round keeps free for a blend, should its candidate forget: writing the blend and
    evaluating it, as long as the longest candidate evaluation so far took (0 before any, or where no blend can
    follow: `why_not_blend`). A last round's training otherwise takes all the time left, and its evaluation leaves
    no time for a blend: on the default goal's seed 6, round 3's candidate (112 of 200 against 100, p = 0.011) lost
    7 of the 36 guard tasks with 6 s left and was rolled back; its blend, made offline from a retrained candidate
    (113, +18 -5), scored 111 (+13 -2, p = 0.0037) and lost none of the guard set's tasks the champion solved."""
    if config.gate.max_retries <= 0 or config.training.lora_output == "adapter":
        return 0.0
    longest = longest_candidate_s(history)
    return BLEND_S + longest if longest is not None else 0.0


def longest_candidate_s(history: list[dict[str, Any]]) -> float | None:
    """The longest a finished round's candidate evaluation took (`eval.candidate_s`), or None before any."""
    evaluated = [float(h["eval"]["candidate_s"]) for h in history if (h.get("eval") or {}).get("candidate_s")]
    return max(evaluated, default=None)


def forgot(guard: dict[str, Any], config: RunConfig) -> bool:
    """Whether a candidate lost more of the guard set than `gate.guard_tolerance` allows."""
    return bool(guard.get("n")) and guard["regression"] > config.gate.guard_tolerance


def why_not_blend(state: RunState, config: RunConfig, ev: dict[str, Any]) -> str | None:
    """Why a candidate that forgot is not blended with the champion, or None. The blend's evaluation is expected to
    take what the candidate's took (`candidate_s`, and `heldout_s` when its held-out evaluation was left to the
    blend)."""
    current = state["current"]
    if int(current.get("retries", {}).get("evaluate", 0)) >= config.gate.max_retries:
        return "the blend forgot too" if current.get("blend") else "no retries allowed"
    if (current.get("train") or {}).get("adapter") == "lora" and config.training.lora_output == "adapter":
        return "a LoRA adapter kept as an adapter is not blended"
    needs = ev.get("candidate_s", 0.0) + ev.get("heldout_s", 0.0) + BLEND_S
    if ev.get("left_s") is not None and ev["left_s"] < needs:
        return f"a blend and its evaluation (about {needs:.0f} s) do not fit the {ev['left_s']:.0f} s left"
    return None


def blend(state: RunState, ctx: RunContext) -> dict[str, Any]:
    started = time.perf_counter()
    round_no = state["round"]
    current = state["current"].copy()
    candidate = state["candidate"]
    assert candidate is not None
    ev: dict[str, Any] = dict(current["eval"])
    output = ctx.run.model_dir(round_no).with_name(f"round-{round_no}-blend")
    location, store = ctx.run.relative(output), ctx.run.store()
    for leftover in output.parent.glob(f".{output.name}-*"):  # a blend killed while it was written
        shutil.rmtree(leftover, ignore_errors=True)
    # The blend is renamed into place whole, and the candidate's weights go only after it: a resumed node whose
    # blend exists (and whose candidate may be gone) keeps it.
    blend_s = None
    if not store.has_weights(location):
        ctx.release_samplers()
        blend_s = round(blend_weights(ctx.resolve(state["champion"]), ctx.resolve(candidate), output, BLEND_ALPHA), 3)
    record = store.record(candidate) or {}
    store.register(
        location,
        parent=state["champion"],
        round_no=round_no,
        goal=ctx.config.goal,
        method="blend",
        adapter="full",
        params={"alpha": BLEND_ALPHA, "candidate": candidate, "trained_by": record.get("method")},
        data=[],
        metrics={"blend_s": blend_s} if blend_s is not None else (store.record(location) or {}).get("metrics", {}),
    )
    store.decide(candidate, dict(state["decisions"][-1]), keep_weights=ctx.config.training.keep_candidates)
    ctx.forget(candidate)
    guard = ev.get("guard") or {}
    current["blend"] = {
        "alpha": BLEND_ALPHA,
        "of": candidate,
        # None when evaluate left the held-out set to the blend.
        "candidate_pass1": ev.get("candidate_pass1"),
        "p_value": ev.get("p_value"),
        "guard": guard,
        # The first evaluation and the blend are not a cost of every round: the budget counts them once.
        "once_s": round(ev.get("once_s", 0.0) + ev.get("candidate_s", 0.0) + time.perf_counter() - started, 1),
        "blend_s": blend_s,
    }
    heldout = "held-out not evaluated" if ev.get("candidate_pass1") is None else f"{ev['candidate_pass1']}/{ev['n']}"
    ctx.log(
        f"round {round_no}: blend: {candidate} ({heldout}, guard {guard.get('candidate_pass')}/{guard.get('n')}) "
        f"moved {BLEND_ALPHA:g} of the way from the champion: {location}"
        + ("" if blend_s is None else f" ({blend_s:g} s)")
    )
    return {"current": current, "candidate": location}
