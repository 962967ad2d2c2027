"""Task family `jsonl`: the user's own tasks from a JSONL file, so an existing benchmark can be practised on.

One task per line. Recognised fields (MBPP and HumanEval rows load as they are):

| field | meaning |
|---|---|
| `prompt` (or MBPP's `text`) | what the model is asked; HumanEval's prompt (a signature and docstring) works as is |
| `tests` | a list of `{"input": [args...], "output": value}` cases, checked by the function harness (the strongest check: the expected values never enter the sandbox) |
| `test_list` (+ `test_setup_code`) | MBPP: assert statements run after the attempt |
| `test` | HumanEval: code defining `check(candidate)`, called with the entry point |
| `entry_point` | the function the tests call (required with `tests` and `test`) |
| `canonical_solution`, `code` or `reference` | a reference solution (optional) |
| `difficulty` | an integer level (default 1) |
| `task_id` or `id` | a stable id (default: the line number) |
| `split` | `train` or `heldout` (default: one task in four is held out, by a stable hash of its prompt) |

Malformed rows are reported together, each with its line number. With assert-style tests (`test_list`, `test`)
the expected values are in the test code, which runs in the sandbox beside the attempt: a pass needs exit
status 0 and a secret marker printed after the tests, read from stdin before the attempt runs.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from pathlib import Path
from typing import Any

from ...sandbox import Limits, Sandbox
from .base import Split, Task, TaskFamily, Verdict, verify_hidden_calls

HELDOUT_SHARE = 4
RUNNER = """import sys
def _run(source):
    marker = sys.stdin.readline().strip()
    exec(compile(source, "attempt_and_tests.py", "exec"), {"__name__": "__main__"})
    sys.stdout.flush()
    sys.stdout.write("\\n" + marker + "\\n")
_run(open("program.py").read())
"""


class TaskFileError(ValueError):
    """A task file that cannot be used; the message lists each malformed row with its line number."""


def _tests(row: dict[str, Any]) -> dict[str, Any]:
    """The hidden tests of a row, in one of the three forms; ValueError saying what is missing."""
    entry = row.get("entry_point") or ""
    if "tests" in row:
        cases = row["tests"]
        if not entry or not isinstance(cases, list) or not cases:
            raise ValueError("`tests` needs a non-empty list of cases and an `entry_point`")
        if not all(isinstance(c, dict) and isinstance(c.get("input"), list) and "output" in c for c in cases):
            raise ValueError('each case of `tests` must be {"input": [args...], "output": value}')
        return {"inputs": [c["input"] for c in cases], "expected": [c["output"] for c in cases]}
    if "test_list" in row:
        asserts = row["test_list"]
        if not isinstance(asserts, list) or not asserts or not all(isinstance(a, str) for a in asserts):
            raise ValueError("`test_list` must be a non-empty list of assert statements")
        return {"test_code": "\n".join([str(row.get("test_setup_code") or ""), *asserts])}
    if "test" in row:
        if not entry:
            raise ValueError("`test` (HumanEval) needs an `entry_point`")
        return {"test_code": f"{row['test']}\ncheck({entry})\n"}
    raise ValueError("no tests: give `tests`, `test_list` or `test`")


def load_tasks(path: str | Path, family: str = "jsonl") -> list[Task]:
    """Every task of the file (as tasks of `family`); TaskFileError listing the malformed rows (line numbers)
    otherwise."""
    file = Path(path)
    if not file.is_file():
        raise TaskFileError(f"task file {path} does not exist")
    tasks: list[Task] = []
    problems: list[str] = []
    ids: set[str] = set()
    for line_no, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(row, dict):
                raise ValueError("not a JSON object")
            prompt = row.get("prompt") or row.get("text")
            if not isinstance(prompt, str) or not prompt.strip():
                raise ValueError("no `prompt` (or `text`)")
            hidden = _tests(row)
            difficulty = int(row.get("difficulty", 1))
            task_id = str(row.get("task_id", row.get("id", f"line-{line_no}")))
            if task_id in ids:
                raise ValueError(f"duplicate id {task_id!r}")
            given = row.get("split") or (
                "heldout" if int(hashlib.sha256(prompt.encode()).hexdigest(), 16) % HELDOUT_SHARE == 0 else "train"
            )
            if given not in ("train", "heldout"):
                raise ValueError(f"`split` must be train or heldout, not {given!r}")
            split: Split = "train" if given == "train" else "heldout"
        except (ValueError, TypeError) as exc:
            problems.append(f"line {line_no}: {exc}")
            continue
        ids.add(task_id)
        reference = row.get("canonical_solution") or row.get("code") or row.get("reference") or ""
        tasks.append(
            Task(
                id=f"{family}-{task_id}",
                family=family,
                template=f"{family}-{difficulty}",
                difficulty=difficulty,
                split=split,
                prompt=prompt,
                entry_point=str(row.get("entry_point") or ""),
                reference=str(reference),
                hidden=hidden,
            )
        )
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise TaskFileError(f"{path}: {len(problems)} malformed row(s): {shown}")
    if not tasks:
        raise TaskFileError(f"{path} has no tasks")
    return tasks


class Jsonl(TaskFamily):
    name = "jsonl"
    keywords = ("benchmark", "file", "dataset", "my", "own", "mbpp", "humaneval")
    description = "your own tasks from a JSONL file (--task-file; MBPP and HumanEval rows work as they are)"

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = path
        self.tasks = load_tasks(path, self.name) if path is not None else []
        """Every task of the file."""
        if self.tasks:
            self.levels = tuple(sorted({t.difficulty for t in self.tasks}))

    @classmethod
    def configured(cls, task_file: str | None = None) -> Jsonl:
        if task_file is None:
            raise TaskFileError("the jsonl task family needs a task file: give --task-file FILE")
        return cls(task_file)

    def _need_file(self) -> None:
        if self.path is None:
            self.configured(None)

    def generate(
        self, *, split: Split, difficulty: int, n: int, seed: int, exclude_prompts: frozenset[str] = frozenset()
    ) -> list[Task]:
        """Up to `n` of the file's tasks of `split` at `difficulty`, in an order fixed by `seed` (a file has only
        so many: later rounds see the same tasks again, with fresh samples)."""
        self._need_file()
        pool = [t for t in self.tasks if t.split == split and t.difficulty == difficulty]
        pool = [t for t in pool if t.prompt not in exclude_prompts]
        pool.sort(key=lambda t: hashlib.sha256(f"{seed}:{t.id}".encode()).hexdigest())
        return pool[:n]

    def heldout(self, *, n: int, seed: int, levels: tuple[int, ...] | None = None) -> list[Task]:
        self._need_file()
        chosen = [t for t in self.tasks if t.split == "heldout" and (levels is None or t.difficulty in levels)]
        return sorted(chosen, key=lambda t: hashlib.sha256(f"{seed}:{t.id}".encode()).hexdigest())[:n]

    def verify(self, task: Task, code: str, sandbox: Sandbox) -> Verdict:
        if "inputs" in task.hidden:
            return verify_hidden_calls(task, code, sandbox)
        if not code.strip():
            return Verdict(passed=False, feedback="The reply contains no Python code block.")
        marker = "@@tests-passed-" + secrets.token_hex(16) + "@@"
        result = sandbox.run(
            RUNNER,
            stdin=marker + "\n",
            files={"program.py": f"{code}\n\n{task.hidden['test_code']}\n"},
            limits=Limits(cpu_s=5, wall_s=10),
        )
        base = {"stopped": result.stopped, "duration_s": result.duration_s}
        if result.stopped:
            return Verdict(passed=False, feedback=f"The run was stopped: {result.stopped}.", **base)
        lines = result.stdout.rstrip("\n").splitlines()
        if result.exit_code == 0 and lines and lines[-1] == marker:
            return Verdict(passed=True, feedback="All tests passed.", **base)
        tail = result.stderr.strip()[-800:] or f"exit status {result.exit_code}; the tests did not finish"
        return Verdict(passed=False, feedback=f"The tests failed:\n{tail}", **base)
