"""Breadth: families practised beside the goal's, never evaluated on, kept out of the curriculum's figures."""

from __future__ import annotations

import json

import pytest
from conftest import tiny_run_args
from conftest import trace_of as trace

from autodidact.agent.cli import main
from autodidact.agent.errors import UserError
from autodidact.agent.planning.breadth import breadth_tasks
from autodidact.agent.run import configure
from autodidact.agent.rundir import read_jsonl


def test_a_share_of_the_round_goes_to_the_breadth_families_over_their_levels():
    config = configure("write small python functions", {"breadth": "list-functions", "breadth_share": 0.25})
    assert config.tasks.breadth == ["list-functions"]
    got = breadth_tasks(config, 120, {"list-functions": (1, 2, 3, 4)})
    assert got == {"list-functions": {"1": 10, "2": 10, "3": 10, "4": 10}}  # 40 of 160 is a quarter
    config.tasks.breadth_share = 0.0
    assert breadth_tasks(config, 120, {"list-functions": (1, 2, 3, 4)}) == {}


def test_breadth_names_a_family_that_makes_its_own_tasks():
    with pytest.raises(UserError, match="--breadth nonsense: not a task family"):
        configure("write small python functions", {"breadth": "nonsense"})
    with pytest.raises(UserError, match="--breadth written"):
        configure("write small python functions", {"breadth": "written"})
    # The goal's own family is not breadth.
    assert configure("write small python functions", {"breadth": "python-functions"}).tasks.breadth == []


def test_a_round_practises_the_breadth_family_but_is_judged_on_the_goals(warm_model, tmp_path, capsys):
    run_dir = tmp_path / "broad"
    args = tiny_run_args(warm_model, run_dir, "--breadth", "list-functions", "--breadth-share", "0.5")
    args[args.index("--rounds") + 1] = "1"
    assert main(args) == 0
    t = trace(run_dir, capsys)
    (r,) = t["rounds"]
    assert r["plan"]["breadth"] == {"list-functions": {"1": 12, "2": 12, "3": 12, "4": 12}}
    tasks = read_jsonl(run_dir / "data/round-1/tasks.jsonl")
    families = {row["family"] for row in tasks}
    assert families == {"python-functions", "list-functions"}
    assert r["counts"]["breadth_tasks"] == sum(row["family"] == "list-functions" for row in tasks) == 48
    # Every attempt was verified by its own family's verifier: list-function answers are functions named `f`.
    attempts = read_jsonl(run_dir / "data/round-1/attempts.jsonl")
    assert len({a["task_id"] for a in attempts}) == len(tasks)
    # The held-out and guard sets are the goal's family only, and so are the repairs.
    for name in ("heldout.jsonl", "guard.jsonl"):
        assert {row["family"] for row in read_jsonl(run_dir / name)} == {"python-functions"}
    assert json.loads((run_dir / "run.json").read_text())["config"]["tasks"]["breadth"] == ["list-functions"]
    repairs = read_jsonl(run_dir / "data/round-1/repairs.jsonl")
    by_id = {row["id"]: row["family"] for row in tasks}
    assert all(by_id[row["task_id"]] == "python-functions" for row in repairs)
