"""Task families: practice domains the agent can train on."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ...sandbox import Sandbox
from .base import Split, Task, TaskFamily, Verdict
from .python_functions import PythonFunctions

FAMILIES: dict[str, type[TaskFamily]] = {PythonFunctions.name: PythonFunctions}


def get_family(name: str) -> TaskFamily:
    """The task family called `name`; a ValueError that lists the known families otherwise."""
    try:
        return FAMILIES[name]()
    except KeyError:
        raise ValueError(f"unknown task family {name!r}; known families: {', '.join(sorted(FAMILIES))}") from None


def verify_each(pairs: list[tuple[Task, str]], sandbox: Sandbox, progress: Any = None) -> list[Verdict]:
    """Verify each (task, code) with its family's verifier in `sandbox`, as many at once as the sandbox serves;
    the verdicts in order. `progress(1)` is called as each is done."""

    def one(pair: tuple[Task, str]) -> Verdict:
        verdict = get_family(pair[0].family).verify(pair[0], pair[1], sandbox)
        if progress is not None:
            progress(1)
        return verdict

    with ThreadPoolExecutor(max(1, sandbox.concurrency)) as pool:
        return list(pool.map(one, pairs))


__all__ = ["FAMILIES", "Split", "Task", "TaskFamily", "Verdict", "get_family", "verify_each"]
