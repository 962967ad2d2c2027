"""An example autodidact plugin: a task family and a tool.

Installed (`pip install examples/autodidact-example-plugin`), it is found through its entry points; without
packaging, `--plugin examples/autodidact-example-plugin/autodidact_example/__init__.py` loads the same objects
through `PLUGINS` below.
"""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

from langchain_core.tools import tool

from autodidact.sandbox import Sandbox
from autodidact.tools.tasks import Split, Task, TaskFamily, Verdict, verify_hidden_calls


def reference(xs: list[int], k: int) -> int:
    return sum(1 for x in xs if x % k == 0)


class Multiples(TaskFamily):
    """Write a function that counts the multiples of k in a list; the difficulty adds conditions."""

    name = "multiples"
    description = "count the multiples of k in a list of integers (higher levels add conditions); an example plugin"
    levels = (1, 2, 3)

    def _task(self, rng: random.Random, split: Split, level: int) -> Task:
        # An odd multiple of an even k does not exist: level 3 draws an odd k, or every answer would be 0.
        k = rng.choice((3, 5, 7, 9)) if level == 3 else rng.randint(2, 9)
        extra = {1: "", 2: " that are also positive", 3: " that are also positive and odd"}[level]
        keep = {1: "True", 2: "x > 0", 3: "x > 0 and x % 2 == 1"}[level]
        code = f"def count_multiples(xs):\n    return sum(1 for x in xs if x % {k} == 0 and {keep})\n"
        inputs = [[[rng.randint(-30, 30) for _ in range(rng.randint(0, 8))]] for _ in range(8)]
        namespace: dict[str, Any] = {}
        exec(code, namespace)  # our own reference solution, to compute the expected outputs
        expected = [namespace["count_multiples"](*args) for args in inputs]
        prompt = (
            f"Write a Python function `count_multiples(xs)` that returns how many integers in the list `xs` are "
            f"multiples of {k}{extra}. For example, count_multiples({inputs[0][0]}) == {expected[0]}. "
            "Answer with one Python code block."
        )
        return Task(
            id=f"multiples-{level}-{k}-{hashlib.sha256(json.dumps(inputs).encode()).hexdigest()[:10]}",
            family=self.name,
            template=f"multiples-{level}",
            difficulty=level,
            split=split,
            prompt=prompt,
            entry_point="count_multiples",
            reference=code,
            hidden={"inputs": inputs, "expected": expected},
        )

    def generate(
        self, *, split: Split, difficulty: int, n: int, seed: int, exclude_prompts: frozenset[str] = frozenset()
    ) -> list[Task]:
        rng = random.Random(f"multiples:{split}:{difficulty}:{seed}")
        tasks = [self._task(rng, split, difficulty) for _ in range(3 * n)]
        return [t for t in tasks if t.prompt not in exclude_prompts][:n]

    def verify(self, task: Task, code: str, sandbox: Sandbox) -> Verdict:
        return verify_hidden_calls(task, code, sandbox)


@tool
def count_multiples(xs: list[int], k: int) -> int:
    """Count how many integers in `xs` are multiples of `k` (what a multiples task asks for)."""
    return reference(xs, k)


PLUGINS = {"tasks": {"multiples": Multiples}, "tools": {"count_multiples": count_multiples}}
