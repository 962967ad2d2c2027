"""The arithmetic and list-functions families: tasks with known answers, verified in the sandbox."""

from __future__ import annotations

import random

import pytest

from autodidact.sandbox import LocalSandbox
from autodidact.tools.tasks import get_family, verify_each
from autodidact.tools.tasks.arithmetic import question


@pytest.fixture(scope="module")
def sandbox():
    with LocalSandbox(workers=2) as box:
        yield box


def test_questions_have_the_value_python_gives_them_and_grow_with_the_level():
    rng = random.Random(0)
    for level in range(1, 6):
        for _ in range(100):
            text, value = question(rng, level)
            assert eval(text) == value  # noqa: S307 - our own expression
            assert sum(text.count(op) for op in " + - * ".split()) >= level
    family = get_family("arithmetic")
    practice = {t.prompt for t in family.generate(split="train", difficulty=3, n=200, seed=1)}
    assert not practice & {t.prompt for t in family.heldout(n=200, seed=1)}


def test_direct_and_code_answers_are_both_verified_and_their_form_recorded(sandbox):
    family = get_family("arithmetic")
    task = family.generate(split="train", difficulty=2, n=1, seed=0)[0]
    expr, answer = task.hidden["expression"], task.hidden["answer"]
    replies = {
        "direct right": (f"Let me think. Answer: {answer}", True, "direct"),
        "direct wrong": (f"Answer: {answer + 1}", False, "direct"),
        "code right": (f"```python\nprint({expr})\n```", True, "code"),
        "code wrong": (f"```python\nprint({expr} + 1)\n```", False, "code"),
        "code that claims": ("```python\nprint('Answer: 0')\nraise SystemExit(0)\n```", answer == 0, "code"),
        "nothing": ("I do not know.", False, "none"),
    }
    extracted = {k: family.extract(r, task) for k, (r, _, _) in replies.items()}
    verdicts = verify_each([(task, extracted[k]) for k in replies], sandbox)
    for (name, (_, want, form)), verdict in zip(replies.items(), verdicts, strict=True):
        assert verdict.passed == want, (name, verdict)
        assert family.answer_form(extracted[name]) == form


def test_list_functions_are_induced_from_examples_and_checked_on_hidden_ones(sandbox):
    family = get_family("list-functions")
    for level in family.levels:
        tasks = family.generate(split="train", difficulty=level, n=5, seed=2)
        assert len(tasks) == 5 and all(t.template.count("+") == level - 1 for t in tasks)
    held = family.heldout(n=40, seed=2)
    assert {t.template for t in held}.isdisjoint(
        {t.template for lvl in family.levels for t in family.generate(split="train", difficulty=lvl, n=60, seed=2)}
    )  # held-out tasks ask for programs never practised
    task = tasks[0]
    wrong = "def f(xs):\n    return xs\n"
    verdicts = verify_each([(task, task.reference), (task, wrong)], sandbox)
    assert [v.passed for v in verdicts] == [True, False]
    assert "f(" in task.prompt and str(task.hidden["expected"][0]) not in task.prompt.split("examples:")[0]
