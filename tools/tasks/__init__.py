"""Task families: practice domains the agent can train on."""

from __future__ import annotations

from .base import Split, Task, TaskFamily, Verdict
from .python_functions import PythonFunctions

FAMILIES: dict[str, type[TaskFamily]] = {PythonFunctions.name: PythonFunctions}


def get_family(name: str) -> TaskFamily:
    """The task family called `name`; a ValueError that lists the known families otherwise."""
    try:
        return FAMILIES[name]()
    except KeyError:
        raise ValueError(f"unknown task family {name!r}; known families: {', '.join(sorted(FAMILIES))}") from None


__all__ = ["FAMILIES", "Split", "Task", "TaskFamily", "Verdict", "get_family"]
