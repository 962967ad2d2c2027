"""Planning a round: who decides it, the tools they decide with, and the curriculum every planner falls back on.

| module | holds |
|---|---|
| `budget.py` | rounds sized to the wall budget from the rates this run measured |
| `clock.py` | the run's seconds outside the nodes: each process's start-up, the transfer benchmark, the end |
| `breadth.py` | a round's tasks from the other function-writing families, for breadth |
| `curriculum.py` | the curriculum planner's rules (band and frontier) and the `Plan` it makes |
| `desk.py` | the planner's tools (LangChain tools with typed schemas), each call judged and recorded |
| `llm.py` | a chat model that plans through tool calls |
| `probe.py` | the champion measured per level on fresh practice tasks |

A `Planner` registers in the `autodidact.planners` entry point group, the built-ins too. Its `plan` returns the
round's plan or None (then the curriculum plans the round, and the record says why); a planner whose `plan` is
None is the curriculum itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ...plugins import Registry


@dataclass(frozen=True)
class Planner:
    name: str
    description: str
    plan: Callable[..., tuple[Any, dict[str, Any]]] | None = None
    """(ctx, state, round_no, desk) -> (the Plan or None, the record of how it went, with `fallback`)."""
    check: Callable[[Any], str | None] = lambda config: None
    """Why the run's settings cannot use this planner (one line with the fix), or None."""


def _chat_plan(ctx: Any, state: Any, round_no: int, desk: Any) -> tuple[Any, dict[str, Any]]:
    from .llm import plan_with_llm

    return plan_with_llm(ctx, state, round_no, desk)


def _check_llm(config: Any) -> str | None:
    if not (config.agent.planner_model and config.agent.planner_base_url):
        return "--planner llm needs --planner-model NAME and --planner-base-url URL (an OpenAI-compatible server)"
    return None


CURRICULUM = Planner("curriculum", "offline rules: practise where the champion succeeds 20-80%, or its frontier")
LLM = Planner("llm", "a chat model on an OpenAI-compatible server, through the planner's tools", _chat_plan, _check_llm)
SELF = Planner("self", "the model being trained, served by the run's backend, through the planner's tools", _chat_plan)

PLANNERS: Mapping[str, Planner] = Registry("planners")
"""Every planner, built-in or plugin, by name (entry point group `autodidact.planners`)."""

__all__ = ["CURRICULUM", "LLM", "PLANNERS", "Planner", "SELF"]
