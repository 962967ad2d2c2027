"""The addition proving ground, in parts: the family and its sandbox verifier, the character tokenizer, the
frontier curriculum, the majority vote, and the family's run defaults on the command line."""

from __future__ import annotations

import random

import pytest

from autodidact.agent.cli import build_parser
from autodidact.agent.cli.run_commands import config_from_args
from autodidact.agent.config import RunConfig
from autodidact.agent.errors import UserError
from autodidact.agent.labels import majority_labels
from autodidact.agent.planning.curriculum import choose_frontier, plan_round
from autodidact.sandbox import LocalSandbox
from autodidact.sandbox.base import ExecResult, Sandbox
from autodidact.tools.tasks import get_family, verify_each
from autodidact.tools.tasks.addition import WIDTH, answer_of, make_task, read_answer


class Recording(Sandbox):
    """Passes every run to a real local sandbox and keeps the programs it was given."""

    def __init__(self, inner: Sandbox) -> None:
        self.inner, self.programs, self.concurrency = inner, [], inner.concurrency

    def _execute(self, code, stdin, files, limits, collect) -> ExecResult:
        self.programs.append(code)
        return self.inner.run(code, stdin=stdin, files=files, limits=limits, collect=collect)


class Broken(Sandbox):
    def _execute(self, code, stdin, files, limits, collect) -> ExecResult:
        return ExecResult(stdout="", stderr="", exit_code=None, duration_s=0.0, stopped="sandbox_error")


@pytest.fixture(scope="module")
def sandbox():
    box = LocalSandbox(workers=1)
    yield box
    box.close()


def test_tasks_have_their_level_of_digits_and_held_out_pairs_never_appear_in_practice():
    family = get_family("addition")
    heldout = family.heldout(n=12 * 30, seed=0)
    assert {t.split for t in heldout} == {"heldout"}
    for level in (1, 4, 9, 12):
        tasks = family.generate(split="train", difficulty=level, n=40, seed=3)
        assert len(tasks) == 40 and {t.difficulty for t in tasks} == {level}
        assert all(max(len(str(t.hidden["a"])), len(str(t.hidden["b"]))) == level for t in tasks)
        assert not {t.prompt for t in tasks} & {t.prompt for t in heldout}
    task = make_task(57, 8)
    assert task.prompt == "75" + "0" * (WIDTH - 2) + "+8" + "0" * (WIDTH - 1) + "="
    assert read_answer(task.reference) == 65


def test_the_sandbox_adds_and_the_harness_compares_in_one_run_for_many_answers(sandbox):
    rng = random.Random(1)
    tasks = [make_task(rng.randint(0, 10**6), rng.randint(0, 10**6)) for _ in range(50)]
    replies = [t.reference for t in tasks[:20]] + [answer_of(t.hidden["a"] + t.hidden["b"] + 1) for t in tasks[20:40]]
    replies += ["print('PASS')", "1" * (WIDTH + 2)] + [t.reference[:-1] for t in tasks[42:]]
    recording = Recording(sandbox)
    verdicts = verify_each(list(zip(tasks, replies, strict=True)), recording)
    assert [v.passed for v in verdicts] == [True] * 20 + [False] * 30
    assert "is" in verdicts[25].feedback and "not" in verdicts[25].feedback
    assert "digits" in verdicts[40].feedback
    assert len(recording.programs) == 1  # one sandbox run for 50 answers
    assert "PASS" not in recording.programs[0]  # the model's answers never reach the sandbox


def test_a_failing_sandbox_gives_sandbox_errors_not_verdicts():
    task = make_task(12, 30)
    (verdict,) = get_family("addition").verify_many([(task, task.reference)], Broken())
    assert not verdict.passed and verdict.stopped == "sandbox_error"


def test_the_character_tokenizer_round_trips_through_save_pretrained(tmp_path):
    from transformers import AutoTokenizer

    from autodidact.trainers.scratch import char_tokenizer

    char_tokenizer("0123456789+=", tmp_path / "tok")
    tok = AutoTokenizer.from_pretrained(tmp_path / "tok")
    text = "7500+8000="
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert len(ids) == len(text) and tok.decode(ids) == text
    prompt = tok.apply_chat_template([{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True)
    assert prompt == text
    full = tok.apply_chat_template(
        [{"role": "user", "content": text}, {"role": "assistant", "content": "56000"}], tokenize=False
    )
    assert full == text + "56000" + tok.eos_token


def test_the_frontier_is_the_first_level_not_mastered_and_mastered_levels_are_replayed():
    stats = {"1": [50, 50], "2": [49, 50], "3": [30, 50], "4": [2, 50], "5": [0, 50]}
    chosen, replay, why = choose_frontier(stats, (1, 2, 3, 4, 5), mastered=0.9)
    assert (chosen, replay) == ([3, 4], [1, 2])
    assert "L3 is the first below 90%" in why
    config = RunConfig.build(goal="g", tasks=["addition"], tasks_per_round=1000, replay_share=0.2)
    plan = plan_round(config, 1, stats, (1, 2, 3, 4, 5), "frontier")
    assert plan.tasks_per_level == {1: 100, 2: 100, 3: 400, 4: 400}
    assert choose_frontier({"1": [50, 50]}, (1,), 0.9)[0] == [1]  # all mastered: keep the hardest


def test_the_majority_keeps_an_answer_only_when_it_leads_by_the_margin():
    family = get_family("addition")
    a, b, c = make_task(1, 2), make_task(3, 4), make_task(5, 6)
    flat = [(a, i, r) for i, r in enumerate(["x", "x", "x", "y"])]
    flat += [(b, i, r) for i, r in enumerate(["x", "x", "y", "z"])]
    flat += [(c, i, r) for i, r in enumerate(["", "", "", "z"])]
    assert majority_labels(flat, family, margin=2) == {a.id: "x"}
    assert majority_labels(flat, family, margin=1) == {a.id: "x", b.id: "x", c.id: "z"}


def _config(*argv: str) -> RunConfig:
    return config_from_args(build_parser().parse_args(["run", "add longer numbers", *argv]))


def test_the_family_sets_its_defaults_and_the_users_flags_win():
    config = _config("--tasks", "addition", "--learning-rate", "1e-4", "--train-param", "sft.max_length=48")
    assert config.training.learning_rate == 1e-4  # the user's
    assert (
        config.training.max_steps_per_round == get_family("addition").run_defaults["max_steps_per_round"]
    )  # the family's
    assert config.training.params["sft"] == {"warmup_steps": 10, "max_length": 48}  # both, merged
    assert config.budget.wall_s == 600 and not config.selection.accumulate  # a 10-minute run on each round's labels
    assert config.selection.accumulate_rolled_back and config.budget.patience == 8  # short rounds: more patience
    assert _config("--tasks", "addition", "--budget", "wall=20m").budget.wall_s == 1200
    general = _config("--tasks", "python-functions").training.learning_rate
    assert general is None  # another family: each trainer's own default


def test_a_familys_own_learning_rate_gives_way_to_the_users():
    arithmetic = _config("--tasks", "arithmetic").training.params
    assert arithmetic == {"sft": {"lora_learning_rate": 1e-3}}
    given = _config("--tasks", "arithmetic", "--learning-rate", "1e-4", "--train-param", "sft.epochs=1")
    assert given.training.learning_rate == 1e-4 and given.training.params == {"sft": {"epochs": 1.0}}


def test_levels_are_checked_against_the_families():
    assert _config("--tasks", "addition", "--levels", "6,7,8").tasks.levels == [6, 7, 8]
    with pytest.raises(UserError, match=r"levels of addition \(1-12\)"):
        _config("--tasks", "addition", "--levels", "13")
    with pytest.raises(UserError, match=r"\(1-5\)"):
        _config("--tasks", "python-functions", "--levels", "7")


def test_the_majority_filter_samples_several_answers_at_a_temperature():
    config = _config("--tasks", "addition", "--label-filter", "majority")
    assert config.sampling.samples_per_task >= 3 and config.sampling.temperature > 0
    with pytest.raises(UserError, match="at least 3 samples"):
        _config("--tasks", "addition", "--label-filter", "majority", "--samples", "2")
