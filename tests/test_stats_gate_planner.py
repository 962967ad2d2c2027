"""The paired test, the gate's criteria and the curriculum, on small hand-made states."""

import math

import pytest

from autodidact.agent.config import RunConfig
from autodidact.agent.gate import judge_acquire, judge_evaluate, judge_select, judge_train, loss_is_falling
from autodidact.agent.planner import choose_levels, plan_round
from autodidact.agent.stats import mcnemar_greater


def test_mcnemar_counts_only_discordant_pairs():
    before = [True] * 20 + [False] * 80
    after = [True] * 20 + [True] * 10 + [False] * 70
    r = mcnemar_greater(before, after)
    assert (r["gained"], r["lost"]) == (10, 0)
    assert r["p_value"] == pytest.approx(0.5**10)
    assert mcnemar_greater(before, before)["p_value"] == 1.0
    worse = mcnemar_greater(after, before)
    assert worse["p_value"] == 1.0


def test_mcnemar_rejects_unpaired():
    with pytest.raises(ValueError):
        mcnemar_greater([True], [True, False])


CFG = RunConfig(goal="g")


def state_with(**current):
    return {"round": 1, "current": {"plan": {}, "counts": {}, **current}}


def test_evaluate_gate_promotes_only_significant_improvements():
    base = {"n": 100, "champion_pass1": 30, "gained": 0, "lost": 0}
    good = judge_evaluate(state_with(eval={**base, "candidate_pass1": 45, "gained": 15, "p_value": 0.5**15}), CFG)
    assert good["route"] == "promote" and good["numbers"]["p_value"] < 0.05
    noisy = judge_evaluate(
        state_with(eval={**base, "candidate_pass1": 33, "gained": 5, "lost": 2, "p_value": 0.23}), CFG
    )
    assert noisy["route"] == "rollback" and "not significant" in noisy["reason"]
    worse = judge_evaluate(state_with(eval={**base, "candidate_pass1": 20, "lost": 10, "p_value": 1.0}), CFG)
    assert worse["route"] == "rollback" and "not better" in worse["reason"]


def test_train_gate_rejects_nan_and_flat_loss():
    assert judge_train(state_with(train={"losses": [2.0, 1.5, 1.0, 0.8]}), CFG)["route"] == "evaluate"
    assert judge_train(state_with(train={"losses": [2.0, math.nan]}), CFG)["route"] == "rollback"
    assert judge_train(state_with(train={"losses": [1.0, 1.1, 1.2, 1.3]}), CFG)["route"] == "rollback"
    assert judge_train(state_with(train={"error": "boom"}), CFG)["route"] == "rollback"
    assert not loss_is_falling([1.0, 1.0, 1.0, 1.0])


def test_acquire_and_select_gates_need_enough_data():
    counts = {"tasks": 10, "attempts": 40, "tasks_solved": 1, "sandbox_errors": 0}
    assert judge_acquire(state_with(counts={**counts, "verified": 1}), CFG)["route"] == "rollback"
    assert judge_acquire(state_with(counts={**counts, "verified": 10}), CFG)["route"] == "refine"
    sel = {"duplicates_dropped": 0, "heldout_overlap_dropped": 0}
    assert judge_select(state_with(counts={**sel, "selected": 3}), CFG)["route"] == "rollback"
    assert judge_select(state_with(counts={**sel, "selected": 30}), CFG)["route"] == "train"


def test_curriculum_keeps_the_band():
    levels = (1, 2, 3, 4, 5)
    assert choose_levels({}, levels)[0] == [1, 2, 3, 4, 5]
    stats = {"1": [95, 100], "2": [60, 100], "3": [30, 100], "4": [5, 100], "5": [0, 100]}
    assert choose_levels(stats, levels)[0] == [2, 3, 4]  # the band and the frontier
    easy = {str(k): [100, 100] for k in levels}
    assert choose_levels(easy, levels)[0] == [5]
    hard = {str(k): [0, 100] for k in levels}
    assert choose_levels(hard, levels)[0] == [1]


def test_plan_spreads_tasks_and_stops_after_the_last_round():
    cfg = RunConfig(goal="g", rounds=2, tasks_per_round=10)
    p = plan_round(cfg, 1, {}, (1, 2, 3))
    assert sum(p.tasks_per_level.values()) == 10 and not p.stop
    assert plan_round(cfg, 3, {}, (1, 2, 3)).stop
