"""The python-functions family: enough templates, deterministic, and a held-out set disjoint from training."""

import collections
import random

import pytest

from autodidact.sandbox import LocalSandbox
from autodidact.tools.tasks import get_family
from autodidact.tools.tasks.function_templates import TEMPLATES
from autodidact.tools.tasks.python_functions import heldout_only_templates, make_task, training_templates


def test_at_least_40_templates_over_five_levels():
    assert len(TEMPLATES) >= 40
    assert len({t.name for t in TEMPLATES}) == len(TEMPLATES)
    levels = collections.Counter(t.level for t in TEMPLATES)
    assert set(levels) == {1, 2, 3, 4, 5}
    # Every level keeps templates for training, and some are held out entirely.
    assert {t.level for t in training_templates()} == {1, 2, 3, 4, 5}
    assert 0.15 * len(TEMPLATES) <= len(heldout_only_templates()) <= 0.35 * len(TEMPLATES)


def test_every_reference_passes_and_a_trivial_answer_fails():
    family, sandbox = get_family("python-functions"), LocalSandbox()
    for template in TEMPLATES:
        task = make_task(template, random.Random(7), "train")
        assert family.verify(task, task.reference, sandbox).passed, template.name
        trivial = f"def {task.entry_point}(*args):\n    return None"
        assert not family.verify(task, trivial, sandbox).passed, template.name


def test_generation_is_deterministic_by_seed():
    family = get_family("python-functions")
    a = family.generate(split="train", difficulty=2, n=10, seed=5)
    b = family.generate(split="train", difficulty=2, n=10, seed=5)
    c = family.generate(split="train", difficulty=2, n=10, seed=6)
    assert [t.to_dict() for t in a] == [t.to_dict() for t in b]
    assert [t.id for t in a] != [t.id for t in c]
    assert all(t.difficulty == 2 for t in a)
    assert family.heldout(n=50, seed=1) == family.heldout(n=50, seed=1)


def test_heldout_is_disjoint_from_training_by_construction():
    family = get_family("python-functions")
    heldout = family.heldout(n=100, seed=0)
    assert len(heldout) == 100 and len({t.prompt for t in heldout}) == 100
    unseen = {t.name for t in heldout_only_templates()}
    assert sum(t.template in unseen for t in heldout) == 27
    assert not any(">>>" in t.prompt or "plain_prompt" in t.hidden for t in heldout)  # evaluation keeps plain words
    prompts = frozenset(t.prompt for t in heldout)
    for seed in range(20):
        for level in (1, 2, 3, 4, 5):
            for task in family.generate(split="train", difficulty=level, n=20, seed=seed, exclude_prompts=prompts):
                assert task.template not in unseen
                assert task.prompt not in prompts and task.plain_prompt not in prompts
                assert task.split == "train"


def test_expected_values_never_appear_in_the_prompt_beyond_the_example():
    template = next(t for t in TEMPLATES if t.name == "sum_list")
    tasks = [make_task(template, random.Random(i), "train") for i in range(20)]
    for task in tasks:
        assert "hidden" not in task.prompt
        # One worked example, in either wording: plain ("should return") or a stub's docstring (">>>").
        assert task.prompt.count("should return") + task.prompt.count(">>>") == 1
        assert task.plain_prompt.count("should return") == 1
        stub = ">>>" in task.prompt
        assert task.wordings == ((task.plain_prompt, task.prompt) if stub else (task.prompt,))
    assert {">>>" in t.prompt for t in tasks} == {True, False}


def test_generate_rejects_heldout_split():
    with pytest.raises(ValueError):
        get_family("python-functions").generate(split="heldout", difficulty=1, n=1, seed=0)
