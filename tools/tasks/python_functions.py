"""Task family `python-functions`: write a small Python function from a natural-language spec.

Held-out disjointness is built in: a quarter of the templates (chosen by a stable hash of their names) are
never used for training, training tasks and held-out tasks come from separate seed streams, and a training
task whose plain wording equals a held-out prompt is never generated.

Practice tasks are asked in two wordings: in plain words ("Write a Python function `f(x)` that ..."), or as a
stub to complete (the signature and a docstring with the example). A run that practised one wording only learned
to answer in that form: its answers to other prompts grew shorter and sometimes lost their body. The held-out set
keeps the plain wording, and a task's identity (for disjointness and decontamination) is its plain wording.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from functools import cache
from typing import Any

from ...prompts import render
from ...sandbox import Sandbox
from ..verify import call_text, plain, show
from .base import Split, Task, TaskFamily, Verdict, draw_distinct, verify_hidden_calls
from .function_templates import TEMPLATES, Template

HELDOUT_ONLY_SHARE = 4  # one template in four is held out entirely
STUB_PERCENT = 50  # share of practice tasks asked as a function stub to complete instead of in plain words
UNSEEN_SHARE_OF_EVAL = 0.27  # share of the evaluation set drawn from never-trained templates


def _stable_bucket(name: str, buckets: int) -> int:
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % buckets


@cache
def heldout_only_templates() -> tuple[Template, ...]:
    return tuple(t for t in TEMPLATES if _stable_bucket(t.name, HELDOUT_ONLY_SHARE) == 0)


@cache
def training_templates() -> tuple[Template, ...]:
    held = set(heldout_only_templates())
    return tuple(t for t in TEMPLATES if t not in held)


def _fill(text: str, params: dict[str, Any]) -> str:
    """A template text with its parameters; texts of parameterless templates keep their braces as written."""
    return text.format(**params) if params else text


def _run_reference(template: Template, source: str, inputs: list[list[Any]]) -> list[Any]:
    """Expected outputs, computed in this process from our own trusted reference solution."""
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<reference {template.name}>", "exec"), namespace)
    fn = namespace[template.entry_point]
    return [plain(fn(*json.loads(json.dumps(args)))) for args in inputs]


def make_task(template: Template, rng: random.Random, split: Split) -> Task:
    params = template.params(rng)
    inputs = template.inputs(rng, params)
    reference = _fill(template.reference, params)
    expected = _run_reference(template, reference, inputs)
    example = max(range(len(inputs)), key=lambda i: len(json.dumps(inputs[i])) if i < 4 else -1)
    fields = {
        "signature": template.signature,
        "spec": _fill(template.spec, params),
        "example_call": call_text(template.entry_point, inputs[example]),
        "example_result": show(expected[example]),
    }
    prompt = plain = render("attempt", **fields)
    digest = hashlib.sha256(json.dumps([template.name, params, inputs]).encode()).hexdigest()[:12]
    stub = split == "train" and _stable_bucket(f"style:{digest}", 100) < STUB_PERCENT
    if stub:
        spec = fields["spec"]
        prompt = render("stub", **{**fields, "spec": spec[:1].upper() + spec[1:]})
    return Task(
        id=f"pf-{template.name}-{digest}",
        family=PythonFunctions.name,
        template=template.name,
        difficulty=template.level,
        split=split,
        prompt=prompt,
        entry_point=template.entry_point,
        reference=reference,
        hidden={
            "inputs": inputs,
            "expected": expected,
            "unseen_template": split == "heldout" and template in heldout_only_templates(),
            **({"plain_prompt": plain} if stub else {}),
        },
    )


class PythonFunctions(TaskFamily):
    name = "python-functions"
    keywords = ("python", "function", "code", "coding", "program", "programming", "write")
    description = "Write a small Python function (lists, strings, numbers, dicts) from a spec; checked on hidden tests."
    # Smaller rounds: round 1 of 120 tasks trains fewer steps on fewer rows, and later rounds are sized from it.
    # Paired runs of the default goal on one machine (held-out gain in points, 160 tasks -> 120): seed 5
    # +17.5 -> +30, seed 6 +22.5 -> +22.5, seed 7 +16.5 -> +23; round 1 of 160 was rolled back on seeds 6 and 7.
    run_defaults: dict[str, Any] = {"tasks_per_round": 120}

    def generate(
        self,
        *,
        split: Split,
        difficulty: int,
        n: int,
        seed: int,
        exclude_prompts: frozenset[str] = frozenset(),
    ) -> list[Task]:
        if split != "train":
            raise ValueError("held-out tasks come from heldout(), not generate()")
        pool = [t for t in training_templates() if t.level == difficulty]
        if not pool:
            raise ValueError(f"no python-functions templates at difficulty {difficulty}")
        rng = random.Random(f"python-functions:train:{difficulty}:{seed}")
        return draw_distinct(lambda: make_task(rng.choice(pool), rng, "train"), "train", n, exclude_prompts, 50 * n)

    def heldout(self, *, n: int, seed: int, levels: tuple[int, ...] | None = None) -> list[Task]:
        rng = random.Random(f"python-functions:heldout:{seed}")

        def at_levels(pool: Sequence[Template]) -> list[Template]:
            return sorted((t for t in pool if levels is None or t.level in levels), key=lambda t: (t.level, t.name))

        unseen, seen = at_levels(heldout_only_templates()), at_levels(training_templates())
        n_unseen = round(n * UNSEEN_SHARE_OF_EVAL) if unseen else 0
        tasks: list[Task] = []
        prompts: set[str] = set()
        # Templates held out entirely fill their share as far as they have distinct tasks; the rest is seen.
        for pool, share in ((unseen, n_unseen), (seen, None)):
            count = share if share is not None else n - len(tasks)
            made, i = 0, 0
            while made < count and i < 100 * count:
                task = make_task(pool[i % len(pool)], rng, "heldout")
                i += 1
                if task.prompt not in prompts:
                    prompts.add(task.prompt)
                    tasks.append(task)
                    made += 1
        return tasks

    def verify(self, task: Task, code: str, sandbox: Sandbox) -> Verdict:
        return verify_hidden_calls(task, code, sandbox)
