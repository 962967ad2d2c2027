"""Task family `list-functions`: induce a Python function on lists of integers from input/output examples.

A hidden program is a composition of simple steps (map, filter, sort, take, ...); the difficulty is how many
steps it composes. The model sees five examples and must write `f(xs)`; it is verified on eight other inputs
by the function harness (the expected outputs never enter the sandbox). A program is held out when a stable
hash of its steps falls in one bucket of five: held-out tasks ask for programs never practised.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from typing import Any

from ...sandbox import Sandbox
from .base import Split, Task, TaskFamily, Verdict, draw_distinct, verify_hidden_calls

HELDOUT_BUCKETS = 5
SHOWN, HIDDEN = 5, 8

# name -> (code with {k}, function of (xs, k), range of k)
Step = tuple[str, Callable[[list[int], int], list[int]], tuple[int, int]]
STEPS: dict[str, Step] = {
    "add": ("xs = [x + {k} for x in xs]", lambda xs, k: [x + k for x in xs], (1, 9)),
    "times": ("xs = [x * {k} for x in xs]", lambda xs, k: [x * k for x in xs], (2, 5)),
    "evens": ("xs = [x for x in xs if x % 2 == 0]", lambda xs, k: [x for x in xs if x % 2 == 0], (0, 0)),
    "odds": ("xs = [x for x in xs if x % 2 == 1]", lambda xs, k: [x for x in xs if x % 2 == 1], (0, 0)),
    "above": ("xs = [x for x in xs if x > {k}]", lambda xs, k: [x for x in xs if x > k], (2, 8)),
    "reverse": ("xs = xs[::-1]", lambda xs, k: xs[::-1], (0, 0)),
    "sort": ("xs = sorted(xs)", lambda xs, k: sorted(xs), (0, 0)),
    "take": ("xs = xs[:{k}]", lambda xs, k: xs[:k], (2, 4)),
    "drop": ("xs = xs[{k}:]", lambda xs, k: xs[k:], (1, 2)),
    "dedupe": ("xs = list(dict.fromkeys(xs))", lambda xs, k: list(dict.fromkeys(xs)), (0, 0)),
}


def program(rng: random.Random, level: int) -> list[tuple[str, int]]:
    """`level` steps, no step twice in a row."""
    steps: list[tuple[str, int]] = []
    while len(steps) < level:
        name = rng.choice(sorted(STEPS))
        if steps and steps[-1][0] == name:
            continue
        low, high = STEPS[name][2]
        steps.append((name, rng.randint(low, high)))
    return steps


def run(steps: list[tuple[str, int]], xs: list[int]) -> list[int]:
    for name, k in steps:
        xs = STEPS[name][1](xs, k)
    return xs


def source(steps: list[tuple[str, int]]) -> str:
    body = "\n".join("    " + STEPS[name][0].format(k=k) for name, k in steps)
    return f"def f(xs):\n{body}\n    return xs\n"


def split_of(steps: list[tuple[str, int]]) -> Split:
    digest = int(hashlib.sha256(json.dumps(steps).encode()).hexdigest(), 16)
    return "heldout" if digest % HELDOUT_BUCKETS == 0 else "train"


def make_task(rng: random.Random, level: int, split: Split) -> Task | None:
    steps = program(rng, level)
    if split_of(steps) != split:
        return None
    inputs: list[list[int]] = []
    while len(inputs) < SHOWN + HIDDEN:
        xs = [rng.randint(0, 9) for _ in range(rng.randint(3, 7))]
        if xs not in inputs:
            inputs.append(xs)
    outputs = [run(steps, xs) for xs in inputs]
    if len({json.dumps(o) for o in outputs}) < 3:  # too uninformative (e.g. always empty)
        return None
    shown = "\n".join(f"f({xs}) == {out}" for xs, out in zip(inputs[:SHOWN], outputs[:SHOWN], strict=True))
    prompt = (
        "Write a Python function `f(xs)` that takes a list of integers and returns a list, matching these "
        f"examples:\n\n{shown}\n\nAnswer with one Python code block."
    )
    hidden: dict[str, Any] = {"inputs": [[xs] for xs in inputs[SHOWN:]], "expected": outputs[SHOWN:]}
    return Task(
        id="lf-" + hashlib.sha256(prompt.encode()).hexdigest()[:12],
        family="list-functions",
        template="+".join(name + (str(k) if STEPS[name][2] != (0, 0) else "") for name, k in steps),
        difficulty=level,
        split=split,
        prompt=prompt,
        entry_point="f",
        reference=source(steps),
        hidden=hidden,
    )


class ListFunctions(TaskFamily):
    name = "list-functions"
    keywords = ("induce", "induction", "examples", "input", "output", "list", "pattern", "infer", "program")
    description = "induce a Python function on integer lists from input/output examples; checked on hidden examples"
    levels = (1, 2, 3, 4)

    def generate(
        self, *, split: Split, difficulty: int, n: int, seed: int, exclude_prompts: frozenset[str] = frozenset()
    ) -> list[Task]:
        rng = random.Random(f"list-functions:{split}:{difficulty}:{seed}")
        return draw_distinct(lambda: make_task(rng, difficulty, split), split, n, exclude_prompts, 100 * n + 100)

    def verify(self, task: Task, code: str, sandbox: Sandbox) -> Verdict:
        return verify_hidden_calls(task, code, sandbox)
