"""What the agent can call: models, generation, task families, verification, and the tools of plugins."""

from __future__ import annotations

from typing import Any

NOT_FOR_PLANNING = "autodidact_not_for_planning"
"""A tool whose LangChain `metadata` has this key set is not offered to the run's planner (training, for one,
is a stage of the run that the gate judges, not a call the planner makes)."""


def for_planning(tool: Any) -> bool:
    """Whether a registered tool is offered to the planner of a run."""
    return not (tool.metadata or {}).get(NOT_FOR_PLANNING)


def agent_tools() -> list[tuple[Any, str]]:
    """Every LangChain tool registered in the `autodidact.tools` entry point group (built-in or plugin), with
    where it came from. An entry may be a tool or a function that returns a list of tools; one that fails is
    left out (and reported by `plugins.broken`)."""
    from langchain_core.tools import BaseTool

    from ..plugins import discover

    found: list[tuple[Any, str]] = []
    for plugin in discover("tools"):
        if plugin.error is not None:
            continue
        value = plugin.value
        made = [value] if isinstance(value, BaseTool) else list(value())
        found += [(t, plugin.origin) for t in made]
    return found
