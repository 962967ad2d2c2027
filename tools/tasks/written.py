"""Task family `written`: practice tasks an LLM wrote during a run (the planner's `write_task` tool).

A written task is a spec, assert-style tests and a reference solution. It is admitted only when

1. its reference passes its tests in the sandbox,
2. its tests fail every trivial wrong solution (`TRIVIAL`: a function that returns None, 0, "", [] or its first
   argument), so that passing them means something, and
3. it is not a near duplicate of a held-out, guard or already admitted task (checked by the caller, which knows
   the run's protected tasks).

Admitted tasks are rows of the run's `tasks/written.jsonl` (the jsonl family's format, with their provenance),
loaded as this family. They are practice only: improvement is still measured on the run's held-out set, which no
written task may come near.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from ...sandbox import Sandbox
from .base import Task
from .jsonl import Jsonl, TaskFileError

TRIVIAL = ("return None", "return 0", "return ''", "return []", "return args[0] if args else None")


class Written(Jsonl):
    name = "written"
    description = "practice tasks the LLM planner wrote during a run, each admitted after checks in the sandbox"
    run_only = True

    def __init__(self, path: str | Path | None = None) -> None:
        super().__init__(path if path is not None and Path(path).is_file() else None)

    @classmethod
    def configured(cls, task_file: str | None = None) -> Written:
        raise TaskFileError(
            "the written task family is filled by the LLM planner during a run (its write_task tool); "
            "choose another family with --tasks"
        )

    def _need_file(self) -> None:
        """A run without written tasks yet simply has none."""

    def heldout(self, *, n: int, seed: int, levels: tuple[int, ...] | None = None) -> list[Task]:
        return []


def written_task(row: dict[str, Any]) -> Task:
    """The task a `write_task` row describes (for the checks, before it is admitted)."""
    digest = hashlib.sha256(f"{row['prompt']}\n{row['entry_point']}".encode()).hexdigest()[:12]
    return Task(
        id=f"written-{digest}",
        family=Written.name,
        template=f"written-{row['difficulty']}",
        difficulty=int(row["difficulty"]),
        split="train",
        prompt=row["prompt"],
        entry_point=row["entry_point"],
        reference=row["reference"],
        hidden={"test_code": "\n".join(row["test_list"])},
    )


def check_task(task: Task, sandbox: Sandbox) -> list[str]:
    """Why the sandbox refuses `task` (empty when its reference passes and every trivial solution fails)."""
    family = Written()
    problems = []
    verdict = family.verify(task, task.reference, sandbox)
    if not verdict.passed:
        problems.append(f"the reference fails its own tests: {verdict.feedback.splitlines()[-1][:200]}")
    for body in TRIVIAL:
        stub = f"def {task.entry_point}(*args, **kwargs):\n    {body}\n"
        if family.verify(task, stub, sandbox).passed:
            problems.append(f"the tests pass a trivial wrong solution (`{body}`)")
            break
    return problems
