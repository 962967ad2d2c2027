"""Training across processes (`--train-processes`, `trainers/processes.py`): two CPU processes train one
candidate of the tiny Llama with DDP (gloo), launched by torch's launcher as a run launches them."""

from __future__ import annotations

import json
import math

import pytest
from conftest import tiny_run_args, trace_of
from test_trainers import FAST, changed, reference_rows

from autodidact.tools.tasks import get_family
from autodidact.trainers import SFTParams, TrainingError
from autodidact.trainers.processes import train_in_processes

pytestmark = pytest.mark.cluster


def test_two_processes_train_one_candidate_sharing_each_step(tiny_model, tmp_path):
    """12 rows, 4 to a step, 2 epochs: 6 steps, as in one process (each process takes 2 rows of a step); the loss
    is finite and falls, the weights move, and the log and the checkpoint are written once."""
    tasks = get_family("python-functions").generate(split="train", difficulty=1, n=12, seed=3)
    result = train_in_processes(
        "sft",
        processes=2,
        base=str(tiny_model),
        items=reference_rows(tiny_model, tasks),
        output_dir=tmp_path / "sft",
        params=SFTParams(epochs=2, **FAST),
        log_dir=tmp_path / "logs",
    )
    assert result.method == "sft" and result.steps == 6
    assert all(math.isfinite(x) for x in result.losses)
    assert sum(result.losses[3:]) < sum(result.losses[:3])
    assert changed(tiny_model, tmp_path / "sft")
    logged = [json.loads(line) for line in (tmp_path / "logs" / "log_history.jsonl").read_text().splitlines()]
    assert [e["loss"] for e in logged if "loss" in e] == pytest.approx(result.losses)
    assert len(list((tmp_path / "logs").glob("events.out.tfevents.*"))) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs", "sft"]  # no launch or work directory left


def test_a_failed_launch_is_a_training_error_with_its_reason(tmp_path):
    with pytest.raises(TrainingError, match=r"training in 2 processes failed: .*no-such-model"):
        train_in_processes(
            "sft",
            processes=2,
            base=str(tmp_path / "no-such-model"),
            items=[{"prompt": "p", "completion": "c"}],
            output_dir=tmp_path / "out",
            params=SFTParams(**FAST),
        )


def test_a_round_trains_its_candidate_in_two_processes(warm_model, tmp_path, capsys):
    from autodidact.agent.cli import main

    run_dir = tmp_path / "run"
    # Every row once (no frontier copies), so that 4 epochs stay under the round's step cap.
    args = tiny_run_args(
        warm_model, run_dir, "--train-processes", "2", "--set", "selection.frontier_repeat=1", rounds=1
    )
    assert main(args) == 0
    train = trace_of(run_dir, capsys)["rounds"][0]["train"]
    assert train["steps"] == 4 * math.ceil(train["rows"] / 8)  # 8 rows to a step, 4 epochs
    assert math.isfinite(train["last_loss"]) and train["last_loss"] < train["first_loss"]
    assert json.loads((run_dir / "run.json").read_text())["config"]["training"]["processes"] == 2
