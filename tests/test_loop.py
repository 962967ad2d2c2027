"""The whole graph, end to end, on a tiny model built in the test: gate decisions, promotion, kill -9 + resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import need_backend
from safetensors.torch import load_file

from autodidact.agent.cli import main

STAGES = ["plan", "acquire", "refine", "select", "train", "evaluate"]
TINY_RUN = [
    "--levels",
    "1",
    "--heldout-tasks",
    "40",
    "--tasks-per-round",
    "48",
    "--samples",
    "4",
    "--epochs",
    "4",
    "--learning-rate",
    "2e-3",
    "--quiet",
]


def tiny_run_args(model: Path, run_dir: Path) -> list[str]:
    goal = "write small python functions"
    return ["run", goal, "--model", str(model), "--run-dir", str(run_dir), "--rounds", "2", *TINY_RUN]


def trace(run_dir: Path, capsys) -> dict:
    capsys.readouterr()
    assert main(["trace", str(run_dir), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def finished_run(warm_model, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("loop") / "run"
    code = main(tiny_run_args(warm_model, run_dir))
    assert code == 0
    return run_dir


def test_every_gate_decision_is_recorded_with_numbers(finished_run, capsys):
    t = trace(finished_run, capsys)
    assert t["status"] == "finished" and t["goal"] == "write small python functions"
    assert [r["round"] for r in t["rounds"]] == [1, 2]
    round1 = [d["stage"] for d in t["decisions"] if d["round"] == 1]
    assert round1 == STAGES, round1
    for d in t["decisions"]:
        assert d["verdict"] and d["reason"] and d["route"]
    assert t["decisions"][-1]["verdict"] == "stop"
    for r in t["rounds"]:
        assert set(r["counts"]) >= {"tasks", "attempts", "verified", "repaired", "selected"}
        assert r["counts"]["attempts"] == r["counts"]["tasks"] * 4
        if r["eval"]:
            assert set(r["eval"]) >= {"n", "champion_pass1", "candidate_pass1", "p_value"}
            assert r["eval"]["n"] == 40


def test_the_gate_promotes_exactly_the_significant_improvements(finished_run, capsys):
    t = trace(finished_run, capsys)
    evaluations = [d for d in t["decisions"] if d["stage"] == "evaluate"]
    assert evaluations
    for d in evaluations:
        n = d["numbers"]
        significant = n["candidate_pass1"] > n["champion_pass1"] and n["p_value"] < 0.05
        assert (d["route"] == "promote") == significant
    promoted = [r for r in t["rounds"] if r["promoted"]]
    assert promoted, "the tiny model should improve on level-1 tasks in two rounds"
    assert t["champion"] == promoted[-1]["champion"]


def test_a_promoted_checkpoint_differs_from_its_parent(finished_run, warm_model, capsys):
    t = trace(finished_run, capsys)
    parent = warm_model
    for r in t["rounds"]:
        if not r["promoted"]:
            continue
        child = finished_run / r["champion"]
        before = load_file(str(Path(parent) / "model.safetensors"))
        after = load_file(str(child / "model.safetensors"))
        assert before.keys() == after.keys()
        assert any(not before[k].equal(after[k]) for k in before)
        parent = child


def test_rejected_candidates_lose_their_weights_but_keep_their_record(finished_run, capsys):
    t = trace(finished_run, capsys)
    for r in t["rounds"]:
        model_dir = finished_run / "models" / f"round-{r['round']}"
        if r["promoted"]:
            assert (model_dir / "model.safetensors").is_file()
        else:
            assert not (model_dir / "model.safetensors").exists()
        assert (finished_run / r["files"]["attempts"]).is_file()


def test_heldout_tasks_never_reach_training(finished_run):
    heldout = [json.loads(line) for line in (finished_run / "heldout.jsonl").read_text().splitlines()]
    prompts = {t["prompt"] for t in heldout}
    ids = {t["id"] for t in heldout}
    for tasks_file in finished_run.glob("data/round-*/tasks.jsonl"):
        for line in tasks_file.read_text().splitlines():
            task = json.loads(line)
            assert task["prompt"] not in prompts and task["id"] not in ids


def test_kill_minus_nine_during_round_two_training_then_resume(warm_model, tmp_path, capsys):
    run_dir = tmp_path / "run"
    args = [sys.executable, "-m", "autodidact.agent.cli", *tiny_run_args(warm_model, run_dir)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    log = run_dir / "run.log"
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if log.exists() and "round 2: train: SFT" in log.read_text():
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before round 2 trained"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert main(["resume", str(run_dir), "--quiet"]) == 0
    t = trace(run_dir, capsys)
    assert t["status"] == "finished"
    assert [r["round"] for r in t["rounds"]] == [1, 2]
    keys = [(d["round"], d["stage"]) for d in t["decisions"]]
    assert len(keys) == len(set(keys)), "a stage was decided twice"
    for data_file in run_dir.rglob("*.jsonl"):
        for line in data_file.read_text().splitlines():
            json.loads(line)  # whole lines only
    assert not list((run_dir / "models").glob(".round-*")), "temporary training directories were left behind"


def test_a_round_in_the_docker_sandbox_gives_the_same_verdicts(finished_run, warm_model, tmp_path, capsys):
    """The loop end to end with --sandbox docker: the same sampled attempts get the same verdicts as locally."""
    need_backend("docker")
    run_dir = tmp_path / "docker-run"
    args = tiny_run_args(warm_model, run_dir)
    args[args.index("--rounds") + 1] = "1"
    assert main([*args, "--sandbox", "docker"]) == 0
    t = trace(run_dir, capsys)
    assert t["status"] == "finished" and t["rounds"][0]["counts"]["verified"] > 0

    def verdicts(run: Path) -> list[tuple[str, int, bool]]:
        rows = [json.loads(line) for line in (run / "data/round-1/attempts.jsonl").read_text().splitlines()]
        return [(r["task_id"], r["sample"], r["passed"]) for r in rows]

    assert verdicts(run_dir) == verdicts(finished_run)
