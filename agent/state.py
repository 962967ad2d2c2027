"""The graph's state: small things only. Bulk data and models live in the run directory."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict


class Decision(TypedDict, total=False):
    """One verdict of the gate: which stage, where it routed, why, and the numbers it used."""

    round: int
    stage: str
    verdict: str
    """forward | retry | replan | rollback | promote | stop"""
    route: str
    reason: str
    numbers: dict[str, Any]


def add_usage(old: dict[str, float] | None, new: dict[str, float] | None) -> dict[str, float]:
    """The usage reducer: each node's share is added to the run's total."""
    total = dict(old or {})
    for key, value in (new or {}).items():
        total[key] = total.get(key, 0) + value
    return total


class RunState(TypedDict, total=False):
    goal: str
    """The user's goal, as given."""
    round: int
    """The round in progress (1-based); 0 before the first plan."""
    base_model: str
    """Where the starting model was loaded from."""
    champion: str
    """The checkpoint currently believed best; changes only through a promotion."""
    candidate: str | None
    """The checkpoint trained this round, until it is promoted or rolled back."""
    current: dict[str, Any]
    """The record of the round in progress: plan, counts, files, train and eval numbers."""
    level_stats: dict[str, list[int]]
    """Per difficulty level, [verified, attempts] of the current champion in its latest acquire (drives the
    curriculum; emptied on promotion, since they measured the old champion)."""
    route: str
    """Where the last gate sent the run (read by the routers)."""
    history: Annotated[list[dict[str, Any]], operator.add]
    """One record per finished round."""
    decisions: Annotated[list[Decision], operator.add]
    """Every gate decision, in order."""
    usage: Annotated[dict[str, float], add_usage]
    """What the run has spent: wall_s (in nodes), sandbox_s, tokens (generated), train_steps."""
    stop_reason: str | None
    """Set by a gate that ends the run after closing the round (a spent budget, a failing sandbox)."""


def initial_state(goal: str, model: str) -> RunState:
    """The state a new run starts from: round 0, the starting model as champion, nothing decided yet."""
    return RunState(
        goal=goal,
        round=0,
        base_model=model,
        champion=model,
        candidate=None,
        current={},
        level_stats={},
        history=[],
        decisions=[],
        usage={},
        stop_reason=None,
    )
