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
