"""Task families: practice domains the agent can train on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...plugins import Registry
from ...sandbox import Sandbox
from .base import Split, Task, TaskFamily, Verdict, verify_hidden_calls

FAMILIES: Mapping[str, type[TaskFamily]] = Registry("tasks")
"""Every task family, built-in or plugin, by name (entry point group `autodidact.tasks`)."""


def family_class(name: str) -> type[TaskFamily]:
    """The task family class called `name`; a ValueError that lists the known families otherwise."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown task family {name!r}; known families: {', '.join(sorted(FAMILIES))}") from None


def get_family(name: str) -> TaskFamily:
    """The task family called `name`, unconfigured (enough to extract and verify answers to its tasks)."""
    return family_class(name)()


def verify_each(pairs: list[tuple[Task, str]], sandbox: Sandbox, progress: Any = None) -> list[Verdict]:
    """Verify each (task, code) with its family's verifier (`TaskFamily.verify_many`) in `sandbox`; the verdicts
    in order. `progress(1)` is called as each is done."""
    by_family: dict[str, list[int]] = {}
    for i, (task, _) in enumerate(pairs):
        by_family.setdefault(task.family, []).append(i)
    verdicts: list[Verdict | None] = [None] * len(pairs)
    for name, index in by_family.items():
        found = get_family(name).verify_many([pairs[i] for i in index], sandbox, progress)
        for i, verdict in zip(index, found, strict=True):
            verdicts[i] = verdict
    return [v for v in verdicts if v is not None]


__all__ = [
    "FAMILIES",
    "Split",
    "Task",
    "TaskFamily",
    "Verdict",
    "family_class",
    "get_family",
    "verify_each",
    "verify_hidden_calls",
]
