"""The loop's claim, tested on its own output: a model trained from scratch on short additions labels longer
ones itself, trains on the labels the sandbox verified, and is then significantly better at the next length.

Everything here is real: the seed is trained by `autodidact seed`, the round is `autodidact run`, and the
verdicts come from the local sandbox. The model is smaller than `seed`'s default; training it still takes two
minutes on 2 cores, so the tests that need it are `slow` (CI runs them with `pytest -m slow`)."""

from __future__ import annotations

import json

import pytest
from conftest import trace_of

from autodidact.agent.cli import main
from autodidact.agent.rundir import read_jsonl
from autodidact.agent.stats import compare

N = 5
SEED_ARGS = ["--hidden-size", "64", "--steps", "700", "--learning-rate", "3e-3", "--min-accuracy", "0.85"]


@pytest.fixture(scope="module")
def seed_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("proving") / f"addition-{N}"
    assert main(["seed", "--task", "addition", "--max-digits", str(N), "--output", str(out), *SEED_ARGS]) == 0
    return out


@pytest.mark.slow
def test_a_seed_teaches_itself_the_next_length(seed_dir, tmp_path, capsys):
    report = json.loads((seed_dir / "seed.json").read_text())
    assert all(report["accuracy"][str(level)] >= 0.85 for level in range(1, N + 1))  # the seed's own check
    run_dir = tmp_path / "run"
    levels = ",".join(str(level) for level in range(1, N + 3))
    argv = ["run", "add longer numbers", "--tasks", "addition", "--model", str(seed_dir), "--run-dir", str(run_dir),
            "--rounds", "1", "--levels", levels, "--heldout-tasks", "600", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    (record,) = trace_of(run_dir, capsys)["rounds"]
    assert record["plan"]["levels"][-2:] == [N + 1, N + 2]  # the frontier, past the seed's levels
    assert record["promoted"], record["eval"]
    by_level = record["eval"]["by_difficulty"]
    before = [r["passed"] for r in read_jsonl(run_dir / "data/eval/base.jsonl") if r["difficulty"] == N + 1]
    after = [r["passed"] for r in read_jsonl(run_dir / "data/eval/round-1.jsonl") if r["difficulty"] == N + 1]
    test = compare(before, after)
    assert test["p_value"] < 0.01, (test, by_level)
    assert test["after_pass"] - test["before_pass"] >= 0.15 * len(before)
    assert by_level["candidate"][str(N + 1)] > by_level["champion"][str(N + 1)]
    # the trained levels are not forgotten
    assert all(by_level["candidate"][str(level)] >= 0.85 for level in range(1, N + 1))


@pytest.mark.slow
def test_the_majority_filter_labels_without_ground_truth_and_reports_its_precision(seed_dir, tmp_path, capsys):
    run_dir = tmp_path / "run"
    argv = ["run", "add longer numbers", "--tasks", "addition", "--model", str(seed_dir), "--run-dir", str(run_dir),
            "--rounds", "1", "--levels", "1,2,3,4,5,6,7", "--label-filter", "majority", "--samples", "4",
            "--tasks-per-round", "600", "--heldout-tasks", "140", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    (record,) = trace_of(run_dir, capsys)["rounds"]
    counts = record["counts"]
    attempts = read_jsonl(run_dir / record["files"]["attempts"])
    labelled = [a for a in attempts if a["label"]]
    assert counts["labelled"] == len(labelled) > 0
    right_tasks = {a["task_id"] for a in labelled if a["passed"]}
    assert counts["label_precision"] == round(len(right_tasks) / counts["tasks_labelled"], 4)
    assert 0 < counts["label_precision"] < 1  # some majorities are wrong at the frontier, and are trained on
    selected = read_jsonl(run_dir / record["files"]["selected"])
    assert any(not row["verified"] for row in selected)  # no ground truth chose them
    assert main(["trace", str(run_dir)]) == 0
    table = capsys.readouterr().out
    assert "labels right" in table and f"{counts['label_precision']:.0%}" in table


@pytest.mark.slow
def test_the_seed_is_an_ordinary_checkpoint(seed_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(seed_dir)
    model = AutoModelForCausalLM.from_pretrained(seed_dir)
    assert model.config.model_type == "llama" and len(tokenizer) == model.config.vocab_size


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--task", "nope", "--max-digits", "3"], "unknown task family 'nope'"),
        (["--task", "python-functions", "--max-digits", "3"], "no character alphabet"),
        (["--task", "addition", "--max-digits", "12"], "max level 12 must be from 1 to 11"),
    ],
)
def test_seed_refuses_what_it_cannot_train(argv, message, tmp_path, capsys):
    assert main(["seed", *argv, "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()
