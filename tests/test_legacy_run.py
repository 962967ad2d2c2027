"""A run directory written before the config had sections (tests/fixtures/legacy-run, made by the previous
release and stopped before its first training) still opens, resumes and traces."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import trace_of

from autodidact.agent.cli import main
from autodidact.agent.config import RunConfig
from autodidact.agent.rundir import RunDir

FIXTURE = Path(__file__).parent / "fixtures" / "legacy-run"


def test_a_flat_run_json_loads_into_the_sections():
    flat = json.loads((FIXTURE / "run.json").read_text())["config"]
    assert "tasks_per_round" in flat and "sampling" not in flat
    config = RunDir(FIXTURE).config()
    assert config.tasks.families == ["python-functions"] and config.tasks.levels == [1]
    assert config.sampling.tasks_per_round == 24 and config.sampling.samples_per_task == 4
    assert config.evaluation.heldout_tasks == 20 and config.evaluation.guard_tasks == 10
    assert config.budget.rounds == 1 and config.training.epochs == 4.0
    # The flat learning rate reached SFT alone; it still does.
    assert config.training.learning_rate is None and config.training.params == {"sft": {"learning_rate": 2e-3}}
    assert RunConfig.from_dict(config.to_dict()) == config  # and the sectioned form round-trips


def test_a_run_made_by_the_previous_release_resumes_and_traces(warm_model, tmp_path, capsys):
    run_dir = tmp_path / "legacy-run"
    shutil.copytree(FIXTURE, run_dir)
    shutil.copytree(warm_model, run_dir / "model")  # its starting model, stored relative to the run as "model"
    before = trace_of(run_dir, capsys)
    assert before["status"] != "finished" and before["rounds"] == []
    assert main(["resume", str(run_dir), "--quiet"]) == 0
    after = trace_of(run_dir, capsys)
    assert after["status"] == "finished" and [r["round"] for r in after["rounds"]] == [1]
    stages = [d["stage"] for d in after["decisions"]]
    assert stages[:4] == ["plan", "acquire", "refine", "select"] and "train" in stages
    assert after["rounds"][0]["train"]["params"]["learning_rate"] == 2e-3
    assert (run_dir / "report.html").is_file()
    assert main(["trace", str(run_dir), "--round", "1", "--stage", "train"]) == 0
