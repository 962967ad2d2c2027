"""The task-family contract, checked against every registered family (built-in or plugin) and the example plugin's.

A family must: keep its held-out tasks apart from every practice task it can make, make the same tasks for the
same seed, accept its own reference solutions, reject trivial answers, and decide verdicts from what the harness
observes, never from anything the attempt can print, exit with or patch.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from autodidact.sandbox import LocalSandbox
from autodidact.tools.tasks import FAMILIES, TaskFamily
from autodidact.tools.tasks.written import Written

EXAMPLE = Path(__file__).parents[2] / "examples" / "autodidact-example-plugin" / "autodidact_example" / "__init__.py"
ROWS = [
    {"prompt": f"Write a Python function `add_{k}(x)` that returns x plus {k}.", "entry_point": f"add_{k}",
     "tests": [{"input": [i], "output": i + k} for i in range(3)], "reference": f"def add_{k}(x):\n    return x + {k}\n"}
    for k in range(1, 13)
] + [
    {"text": f"Write a function `times_{k}(x)` that returns x times {k}.", "test_list": [f"assert times_{k}(2) == {2 * k}"],
     "code": f"def times_{k}(x):\n    return x * {k}\n"}
    for k in range(1, 9)
]  # fmt: skip


def _example_family() -> type[TaskFamily]:
    spec = importlib.util.spec_from_file_location("autodidact_example_conformance", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PLUGINS["tasks"]["multiples"]


CLASSES = {**dict(FAMILIES), "multiples (example plugin)": _example_family()}


@pytest.fixture(scope="module")
def local_sandbox():
    sandbox = LocalSandbox(workers=2)
    yield sandbox
    sandbox.close()


@pytest.fixture(params=sorted(CLASSES))
def family(request, tmp_path_factory) -> TaskFamily:
    cls = CLASSES[request.param]
    folder = tmp_path_factory.mktemp("family")
    if cls is Written:  # the run's written tasks: rows of the jsonl family with their provenance
        path = folder / "written.jsonl"
        path.write_text("".join(json.dumps({**r, "split": "train"}) + "\n" for r in ROWS if "tests" in r))
        return Written(path)
    path = folder / "tasks.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return cls.configured(task_file=str(path))


def practice(family: TaskFamily, n: int = 12, seeds: range = range(3)) -> list:
    return [
        t
        for level in family.levels
        for seed in seeds
        for t in family.generate(split="train", difficulty=level, n=n, seed=seed)
    ]


def test_it_describes_itself(family):
    assert family.name and family.description and family.levels
    assert all(isinstance(level, int) for level in family.levels)


def test_the_held_out_tasks_are_never_practice_tasks(family):
    """Practice never shows a held-out prompt: the run passes the held-out and guard prompts as `exclude_prompts`
    (two random draws of a small task may write the same prompt, so the exclusion is the guarantee)."""
    heldout = family.heldout(n=20, seed=0)
    assert all(t.split == "heldout" for t in heldout)
    protected = frozenset(t.prompt for t in heldout)
    tasks = [
        t
        for level in family.levels
        for seed in range(3)
        for t in family.generate(split="train", difficulty=level, n=12, seed=seed, exclude_prompts=protected)
    ]
    assert tasks and all(t.split == "train" for t in tasks)
    assert not protected & {t.prompt for t in tasks}
    assert not {t.id for t in heldout} & {t.id for t in tasks}


def test_the_same_seed_makes_the_same_tasks(family):
    level = family.levels[0]
    first = family.generate(split="train", difficulty=level, n=6, seed=5)
    second = family.generate(split="train", difficulty=level, n=6, seed=5)
    assert [t.to_dict() for t in first] == [t.to_dict() for t in second]
    assert [t.id for t in family.heldout(n=8, seed=1)] == [t.id for t in family.heldout(n=8, seed=1)]


def test_the_reference_passes_and_trivial_answers_fail(family, local_sandbox):
    tasks = practice(family, n=2, seeds=range(1))[:6]
    for task in tasks:
        assert family.verify(task, task.reference, local_sandbox).passed, task.id
        assert family.extract(f"```python\n{task.reference}\n```", task)
        for trivial in ("", "pass", f"def {task.entry_point}(*args, **kwargs):\n    return None"):
            assert not family.verify(task, trivial, local_sandbox).passed, (task.id, trivial)


def forgeries(entry_point: str) -> list[str]:
    """Attempts that try to pass without solving: claim success, leave early, or make any answer compare equal."""
    always_equal = (
        "class Anything:\n    def __eq__(self, other):\n        return True\n    def __ne__(self, other):\n"
        "        return False\n    __hash__ = object.__hash__\n"
    )
    return [
        "import os\nprint('PASS')\nprint('ok')\nos._exit(0)",
        "import sys\nprint('all tests passed')\nsys.exit(0)",
        f"{always_equal}def {entry_point}(*args, **kwargs):\n    return Anything()",
        f"import json\njson.dumps = lambda *a, **k: 'true'\ndef {entry_point}(*args, **kwargs):\n    return None",
        f"import builtins\nbuiltins.print = lambda *a, **k: None\ndef {entry_point}(*args, **kwargs):\n    return None",
    ]


def test_the_verdict_never_trusts_the_attempt(family, local_sandbox):
    for task in practice(family, n=1, seeds=range(1))[:3]:
        for code in forgeries(task.entry_point):
            assert not family.verify(task, code, local_sandbox).passed, (task.id, code)
