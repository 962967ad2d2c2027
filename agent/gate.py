"""The evaluator gate: runs after every node with that stage's criteria, routes the run, and records why.

Each `judge_<stage>` looks only at the state and returns a Decision; `gate_node(stage)` wraps it as a graph
node that appends the decision and sets `route`. A promotion can only come from `judge_evaluate`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .config import RunConfig
from .state import Decision, RunState

# Where each verdict sends the run.
ROUTES = {
    "plan": ("acquire", "end"),
    "acquire": ("refine", "rollback"),
    "refine": ("select",),
    "select": ("train", "rollback"),
    "train": ("evaluate", "rollback"),
    "evaluate": ("promote", "rollback"),
}


def _decision(state: RunState, stage: str, verdict: str, route: str, reason: str, **numbers: Any) -> Decision:
    return Decision(
        round=state.get("round", 0), stage=stage, verdict=verdict, route=route, reason=reason, numbers=numbers
    )


def judge_plan(state: RunState, config: RunConfig) -> Decision:
    plan = state["current"]["plan"]
    if plan["stop"]:
        return _decision(state, "plan", "stop", "end", plan["reason"])
    return _decision(
        state, "plan", "forward", "acquire", plan["reason"], n_tasks=plan["n_tasks"], levels=plan["levels"]
    )


def judge_acquire(state: RunState, config: RunConfig) -> Decision:
    counts = state["current"]["counts"]
    numbers = {k: counts[k] for k in ("tasks", "attempts", "verified", "tasks_solved", "sandbox_errors")}
    if counts["verified"] < config.min_verified:
        return _decision(
            state,
            "acquire",
            "rollback",
            "rollback",
            f"only {counts['verified']} verified attempts (< {config.min_verified}): nothing to learn",
            **numbers,
        )
    return _decision(
        state,
        "acquire",
        "forward",
        "refine",
        f"{counts['verified']} verified attempts on {counts['tasks_solved']} of {counts['tasks']} tasks",
        **numbers,
    )


def judge_refine(state: RunState, config: RunConfig) -> Decision:
    counts = state["current"]["counts"]
    tried, repaired = counts.get("repairs_tried", 0), counts.get("repaired", 0)
    return _decision(
        state,
        "refine",
        "forward",
        "select",
        f"{repaired} of {tried} repairs verified",
        repairs_tried=tried,
        repaired=repaired,
    )


# What each method trains on, the count select made of it, and the config field with the minimum.
TRAINING_DATA = {
    "sft": ("verified rows", "selected", "min_rows"),
    "dpo": ("preference pairs", "pairs", "min_pairs"),
    "grpo": ("tasks with mixed outcomes", "grpo_prompts", "min_grpo_tasks"),
}


def judge_select(state: RunState, config: RunConfig) -> Decision:
    counts, trainer = state["current"]["counts"], state["current"]["trainer"]
    method = trainer["method"]
    what, key, minimum_field = TRAINING_DATA[method]
    have, need = counts[key], getattr(config, minimum_field)
    numbers = {
        k: counts[k] for k in ("selected", "pairs", "grpo_prompts", "duplicates_dropped", "heldout_overlap_dropped")
    }
    numbers.update(method=method, diagnostics=trainer["diagnostics"])
    if have < need:
        why = f"{method}: only {have} {what} (< {need})"
        return _decision(state, "select", "rollback", "rollback", why, **numbers)
    return _decision(state, "select", "forward", "train", f"{method} on {have} {what}: {trainer['reason']}", **numbers)


def loss_quarters(losses: list[float]) -> tuple[float, float]:
    """Mean of the first and of the last quarter of the logged losses (single steps are noisy)."""
    q = max(1, len(losses) // 4)
    return sum(losses[:q]) / q, sum(losses[-q:]) / q


def loss_is_falling(losses: list[float]) -> bool:
    if len(losses) < 2:
        return True
    first, last = loss_quarters(losses)
    return last < first


def collapsed(probe: dict[str, Any], config: RunConfig) -> str | None:
    """Why the candidate's sampled outputs look collapsed next to the champion's, or None."""
    champion, candidate = probe["champion"], probe["candidate"]
    if champion["mean_chars"] > 0 and candidate["mean_chars"] < config.min_length_ratio * champion["mean_chars"]:
        return (
            f"completions collapsed in length ({candidate['mean_chars']:.0f} vs the champion's "
            f"{champion['mean_chars']:.0f} characters)"
        )
    if champion["distinct"] > 0 and candidate["distinct"] < config.min_diversity_ratio * champion["distinct"]:
        return (
            f"completions collapsed in diversity ({candidate['distinct']:.0%} distinct vs the champion's "
            f"{champion['distinct']:.0%})"
        )
    return None


def judge_train(state: RunState, config: RunConfig) -> Decision:
    train = state["current"].get("train", {})
    losses = train.get("losses", [])
    if train.get("error"):
        return _decision(state, "train", "rollback", "rollback", f"training failed: {train['error']}")
    if not losses or not all(math.isfinite(x) for x in losses):
        return _decision(state, "train", "rollback", "rollback", "the loss is not finite", losses=losses[-5:])
    method = train.get("method", "sft")
    first, last = loss_quarters(losses)
    numbers: dict[str, Any] = {"method": method, "first_quarter_loss": first, "last_quarter_loss": last}
    numbers["steps"] = train.get("steps")
    if method == "grpo":
        # GRPO's loss is a policy-gradient surrogate, not a fit: it need not fall. What must hold is that some
        # groups had different rewards (else nothing was learned) and that the rewards were real numbers.
        rewards, spreads = train.get("metrics", {}).get("reward", []), train.get("metrics", {}).get("reward_std", [])
        if not rewards or not all(math.isfinite(x) for x in rewards):
            return _decision(state, "train", "rollback", "rollback", "GRPO logged no finite rewards", **numbers)
        r_first, r_last = loss_quarters(rewards)
        numbers.update(first_quarter_reward=r_first, last_quarter_reward=r_last)
        if not any(s > 0 for s in spreads):
            why = "every GRPO group had equal rewards: no advantage, nothing learned"
            return _decision(state, "train", "rollback", "rollback", why, **numbers)
        fit = f"mean reward {r_first:.2f} -> {r_last:.2f}"
    else:
        if not loss_is_falling(losses):
            why = f"the loss did not fall (mean of first quarter {first:.3f}, of last quarter {last:.3f})"
            return _decision(state, "train", "rollback", "rollback", why, **numbers)
        fit = f"the loss fell (mean of first quarter {first:.3f}, of last quarter {last:.3f})"
    probe = train.get("probe")
    if probe:
        numbers["probe"] = probe
        why_collapsed = collapsed(probe, config)
        if why_collapsed:
            return _decision(state, "train", "rollback", "rollback", f"{method}: {why_collapsed}", **numbers)
    return _decision(state, "train", "forward", "evaluate", f"{method}: {fit}", **numbers)


def judge_evaluate(state: RunState, config: RunConfig) -> Decision:
    ev = state["current"]["eval"]
    numbers = {k: ev[k] for k in ("n", "champion_pass1", "candidate_pass1", "gained", "lost", "p_value")}
    better = ev["candidate_pass1"] > ev["champion_pass1"]
    if better and ev["p_value"] < config.alpha:
        return _decision(
            state,
            "evaluate",
            "promote",
            "promote",
            f"candidate {ev['candidate_pass1']}/{ev['n']} vs champion {ev['champion_pass1']}/{ev['n']}, "
            f"one-sided McNemar p={ev['p_value']:.3g} < {config.alpha}",
            **numbers,
        )
    why = "not better" if not better else f"not significant (p={ev['p_value']:.3g} >= {config.alpha})"
    return _decision(
        state,
        "evaluate",
        "rollback",
        "rollback",
        f"candidate {ev['candidate_pass1']}/{ev['n']} vs champion {ev['champion_pass1']}/{ev['n']}: {why}",
        **numbers,
    )


JUDGES: dict[str, Callable[[RunState, RunConfig], Decision]] = {
    "plan": judge_plan,
    "acquire": judge_acquire,
    "refine": judge_refine,
    "select": judge_select,
    "train": judge_train,
    "evaluate": judge_evaluate,
}


def gate_node(stage: str, config: RunConfig, log: Callable[[str], None]) -> Callable[[RunState], dict[str, Any]]:
    judge = JUDGES[stage]

    def gate(state: RunState) -> dict[str, Any]:
        decision = judge(state, config)
        assert decision["route"] in ROUTES[stage], (stage, decision)
        log(
            f"round {decision['round']}: gate after {stage}: {decision['verdict']} -> {decision['route']}: "
            f"{decision['reason']}"
        )
        return {"decisions": [decision], "route": decision["route"]}

    gate.__name__ = f"gate_{stage}"
    return gate


def route(state: RunState) -> str:
    return state["route"]
