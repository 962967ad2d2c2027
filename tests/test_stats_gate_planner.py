"""The paired test, the gate's criteria and the curriculum, on small hand-made states."""

import math

import pytest

from autodidact.agent.config import RunConfig
from autodidact.agent.gate import (
    judge_acquire,
    judge_evaluate,
    judge_refine,
    judge_select,
    judge_train,
    loss_is_falling,
)
from autodidact.agent.nodes.blend import why_not_blend
from autodidact.agent.planning.budget import unpaid_repairs
from autodidact.agent.planning.curriculum import choose_levels, plan_round
from autodidact.agent.stats import mcnemar_greater
from autodidact.agent.trainer_choice import choose_trainer, data_diagnostics


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


def test_the_template_test_is_mcnemar_when_every_task_is_its_own_template():
    import random

    from autodidact.agent.stats import clustered_greater

    rng = random.Random(0)
    for _ in range(5):
        before = [rng.random() < 0.3 for _ in range(200)]
        after = [(b and rng.random() < 0.9) or rng.random() < 0.15 for b in before]
        test = clustered_greater(before, after, [str(i) for i in range(200)])
        assert test["p_value"] == pytest.approx(mcnemar_greater(before, after)["p_value"], rel=1e-9)


def test_the_template_test_counts_templates_that_moved_not_tasks():
    from autodidact.agent.stats import clustered_greater, compare

    # Two templates of six tasks each, every task gained: twelve coins for McNemar, two for the template test.
    before, after, templates = [False] * 12 + [True] * 4, [True] * 12 + [True] * 4, ["a"] * 6 + ["b"] * 6 + ["c"] * 4
    assert mcnemar_greater(before, after)["p_value"] == pytest.approx(0.5**12)
    test = clustered_greater(before, after, templates)
    assert (test["clusters"], test["moved"], test["up"]) == (3, 2, 2) and test["p_value"] == pytest.approx(0.25)
    # Net changes +2, +2, -1: of the 8 sign flips, sums 5 and 3 reach the observed 3.
    mixed = clustered_greater([0, 0, 0, 0, 1, 1], [1, 1, 1, 1, 1, 0], list("aabbcc"))
    assert (mixed["up"], mixed["moved"], mixed["p_value"]) == (2, 3, pytest.approx(0.25))
    assert clustered_greater([1] * 4, [0] * 4, list("aabb"))["p_value"] == 1.0
    assert clustered_greater([1] * 4, [1] * 4, list("aabb"))["p_value"] == 1.0
    assert compare(before, after, clusters=templates)["by_cluster"] == test
    assert "by_cluster" not in compare(before, after, clusters=[str(i) for i in range(16)])
    with pytest.raises(ValueError):
        clustered_greater([True], [True], ["a", "b"])


CFG = RunConfig(goal="g")


def state_with(**current):
    return {"round": 1, "current": {"plan": {}, "counts": {}, **current}}


def test_repairs_stop_once_a_rounds_worth_verified_none_that_was_not_a_copy():
    def round_(tried, repaired=0, copies=0):
        return {"counts": {"repairs_tried": tried, "repaired": repaired, "repair_copies": copies}}

    assert unpaid_repairs([], 24) is None  # round 1 always tries
    assert unpaid_repairs([round_(10)], 24) is None  # fewer than a round's worth tried: not enough evidence
    assert unpaid_repairs([round_(24, repaired=1)], 24) is None  # one real repair keeps them going
    assert unpaid_repairs([round_(24, repaired=2, copies=2)], 24) == "skipped: earlier rounds verified 0 of 24 repairs"
    assert unpaid_repairs([round_(12), round_(12)], 24) is not None  # counted over the run, not one round
    assert unpaid_repairs([round_(0)], 0) is None  # a family with no repairs (arithmetic) has nothing to skip
    skipped = judge_refine(state_with(counts={"repairs_tried": 0, "repairs_skipped": "skipped: x"}), CFG)
    assert skipped["route"] == "select" and "skipped: x" in skipped["reason"]
    tried = judge_refine(state_with(counts={"repairs_tried": 24, "repaired": 3, "repair_copies": 1}), CFG)
    assert tried["reason"].startswith("3 of 24 repairs verified (1 ")


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


def test_a_better_candidate_that_forgot_is_blended_once_when_its_evaluation_fits():
    # Seed 3's round 1: 82 of 200 against 64, the guard set 25 of 31 against 31 of 31.
    forgot = {
        "n": 200, "champion_pass1": 64, "candidate_pass1": 82, "gained": 30, "lost": 12, "p_value": 0.001,
        "guard": {"n": 31, "champion_pass": 31, "candidate_pass": 25, "regression": 0.1935},
        "candidate_s": 46.0, "left_s": 900.0,
    }  # fmt: skip
    first = judge_evaluate(state_with(eval=forgot), CFG)
    assert (first["verdict"], first["route"]) == ("retry", "blend") and "blend it 0.5 of the way" in first["reason"]
    blended = state_with(eval=forgot, retries={"evaluate": 1}, blend={"of": "models/round-1"})
    again = judge_evaluate(blended, CFG)
    assert again["route"] == "rollback" and "the blend forgot too" in again["reason"]
    late = judge_evaluate(state_with(eval={**forgot, "left_s": 50.0}), CFG)
    assert late["route"] == "rollback" and "do not fit the 50 s left" in late["reason"]
    kept = RunConfig.build(goal="g", lora_output="adapter")
    adapter = judge_evaluate(state_with(eval=forgot, train={"adapter": "lora"}), kept)
    assert adapter["route"] == "rollback" and "kept as an adapter" in adapter["reason"]
    unbudgeted = judge_evaluate(state_with(eval={**forgot, "left_s": None}), CFG)
    assert unbudgeted["route"] == "blend"
    whole = {**forgot, "guard": {**forgot["guard"], "candidate_pass": 29, "regression": 0.0645}}
    assert judge_evaluate(state_with(eval=whole), CFG)["route"] == "promote"
    noisy = judge_evaluate(state_with(eval={**forgot, "p_value": 0.2}), CFG)
    assert noisy["route"] == "rollback" and "not significant" in noisy["reason"]  # only a real gain is blended


def test_a_candidate_that_forgot_before_its_heldout_evaluation_is_blended_when_the_blend_fits():
    # The guard set is checked first; a candidate that forgot is never promoted, so evaluate leaves the held-out
    # set to the blend. The blend's evaluation is expected to take the guard's seconds and the held-out set's.
    skipped = {
        "n": 200, "champion_pass1": 58, "candidate_s": 8.0, "heldout_s": 95.0, "left_s": 900.0,
        "guard": {"n": 33, "champion_pass": 33, "candidate_pass": 28, "regression": 0.1515},
    }  # fmt: skip
    first = judge_evaluate(state_with(eval=skipped), CFG)
    assert (first["verdict"], first["route"]) == ("retry", "blend")
    assert "guard set 28/33" in first["reason"] and "not evaluated on the held-out set" in first["reason"]
    assert first["numbers"]["candidate_pass1"] is None and first["numbers"]["champion_pass1"] == 58
    assert why_not_blend(state_with(eval=skipped), CFG, {**skipped, "left_s": 110.0}) is not None  # 8 + 95 + 10 s
    assert why_not_blend(state_with(eval=skipped), CFG, {**skipped, "left_s": 115.0}) is None
    late = judge_evaluate(state_with(eval={**skipped, "left_s": 100.0}), CFG)
    assert late["route"] == "rollback" and "do not fit the 100 s left" in late["reason"]


RETRIED = {"train": 1, "acquire": 1}


def test_train_gate_retries_a_failed_fit_once_then_rolls_back():
    assert judge_train(state_with(train={"losses": [2.0, 1.5, 1.0, 0.8]}), CFG)["route"] == "evaluate"
    for bad in ({"losses": [2.0, math.nan]}, {"losses": [1.0, 1.1, 1.2, 1.3]}, {"error": "boom"}):
        first = judge_train(state_with(train=bad), CFG)
        assert (first["verdict"], first["route"]) == ("retry", "train") and "half the learning rate" in first["reason"]
        assert judge_train(state_with(train=bad, retries=RETRIED), CFG)["route"] == "rollback"
    assert not loss_is_falling([1.0, 1.0, 1.0, 1.0])


def test_a_flat_loss_is_retried_at_twice_the_rate_a_rising_one_at_half():
    from autodidact.agent.gate import retry_changes

    flat = {
        "method": "dpo",
        "losses": [0.693, 0.692, 0.694, 0.693],
        "params": {"learning_rate": 5e-6, "lora_learning_rate": 2e-5},
    }
    assert "twice the learning rate" in judge_train(state_with(train=flat), CFG)["reason"]
    assert retry_changes("train", state_with(train=flat))["retry_params"] == {
        "learning_rate": 1e-5,
        "lora_learning_rate": 4e-5,
    }
    rising = {"losses": [1.0, 1.1, 1.2, 1.3], "params": {"learning_rate": 2e-4}}
    assert "half the learning rate" in judge_train(state_with(train=rising), CFG)["reason"]
    assert retry_changes("train", state_with(train=rising))["retry_params"] == {"learning_rate": 1e-4}


def test_sft_needs_a_loss_that_holds_not_one_that_falls():
    for epochs in (0.9, 2.0):
        sft = {"method": "sft", "params": {"epochs": epochs, "lora_learning_rate": 2e-4}}
        held = judge_train(state_with(train={**sft, "losses": [0.052, 0.05, 0.061, 0.058, 0.055, 0.059]}), CFG)
        assert held["route"] == "evaluate" and "the held-out tasks judge it" in held["reason"]
        # Seed 0's round 2 in fp32: two epochs, quarters 0.117 -> 0.120, scored 100 of 200 against 86 once evaluated.
        flat = judge_train(state_with(train={**sft, "losses": [0.117, 0.11, 0.125, 0.118, 0.12, 0.12]}), CFG)
        assert flat["route"] == "evaluate"
        rose = judge_train(state_with(train={**sft, "losses": [0.05, 0.05, 0.06, 0.07, 0.08, 0.09]}), CFG)
        assert rose["verdict"] == "retry" and "the loss rose" in rose["reason"]
    # DPO's loss starts at log 2 and must fall, at any length.
    for epochs in (0.9, 2.0):
        flat = {"method": "dpo", "params": {"epochs": epochs}, "losses": [0.693, 0.692, 0.694, 0.693]}
        judged = judge_train(state_with(train=flat), CFG)
        assert judged["verdict"] == "retry" and "did not fall" in judged["reason"]


def test_an_sft_rise_with_no_time_to_retrain_goes_to_the_held_out_tasks():
    """The default goal's seed 1: a last round's one-pass SFT (41 steps, 224 s) whose loss rose 28% was retried in
    the 60 s the budget had left, 12 steps. When a retry would have under half the time, the evaluation judges it."""
    rising = [0.082, 0.08, 0.09, 0.1, 0.104, 0.106]
    sft = {"method": "sft", "losses": rising, "duration_s": 224.0, "params": {"epochs": 0.8}}
    last_round = {**sft, "step_budget": {"seconds": 250}}
    judged = judge_train(state_with(train=last_round), CFG)
    assert (judged["verdict"], judged["route"]) == ("forward", "evaluate")
    assert "the loss rose" in judged["reason"] and "the held-out tasks judge it" in judged["reason"]
    # With time for a retry, or without a wall budget, a rise is retried as before.
    for seconds in (400, 0):
        roomy = {**sft, "step_budget": {"seconds": seconds}}
        assert judge_train(state_with(train=roomy), CFG)["verdict"] == "retry"
    # A DPO loss that did not fall is retried whatever the time.
    dpo = {**last_round, "method": "dpo", "losses": [0.693, 0.692, 0.694, 0.693]}
    assert judge_train(state_with(train=dpo), CFG)["verdict"] == "retry"
    # A collapsed candidate is still refused.
    probe = {"champion": {"mean_chars": 200, "distinct": 1.0}, "candidate": {"mean_chars": 20, "distinct": 1.0}}
    assert judge_train(state_with(train={**last_round, "probe": probe}), CFG)["route"] == "rollback"


def test_a_retry_changes_the_stage_parameters():
    from autodidact.agent.gate import retry_changes

    state = state_with(plan={"samples_per_task": 4}, train={"params": {"learning_rate": 2e-4}})
    assert retry_changes("acquire", state)["plan"]["samples_per_task"] == 8
    again = retry_changes("train", state)
    assert again["retry_params"] == {"learning_rate": 1e-4} and again["retries"] == {"train": 1}
    lora = state_with(plan={}, train={"params": {"learning_rate": 5e-5, "lora_learning_rate": 2e-4}})
    assert retry_changes("train", lora)["retry_params"] == {"learning_rate": 2.5e-5, "lora_learning_rate": 1e-4}


def test_acquire_and_select_gates_need_enough_data():
    counts = {"tasks": 10, "attempts": 40, "tasks_solved": 3, "sandbox_errors": 0}
    assert judge_acquire(state_with(counts={**counts, "verified": 1}), CFG)["route"] == "acquire"
    assert judge_acquire(state_with(counts={**counts, "verified": 1}, retries=RETRIED), CFG)["route"] == "rollback"
    assert judge_acquire(state_with(counts={**counts, "verified": 10}), CFG)["route"] == "refine"
    one_task = judge_acquire(state_with(counts={**counts, "verified": 10, "tasks_solved": 1}), CFG)
    assert one_task["route"] == "acquire" and "tasks solved" in one_task["reason"]
    broken = judge_acquire(state_with(counts={**counts, "verified": 10, "sandbox_errors": 20}), CFG)
    assert broken["verdict"] == "stop" and "sandbox itself failed 20 of 40" in broken["reason"]


def selected(method, **counts):
    base = {"selected": 0, "pairs": 0, "grpo_prompts": 0, "duplicates_dropped": 0, "heldout_overlap_dropped": 0}
    trainer = {"method": method, "reason": "test", "diagnostics": {}}
    return state_with(counts={**base, **counts}, trainer=trainer)


def test_the_select_gate_asks_for_the_data_the_chosen_method_trains_on():
    assert judge_select(selected("sft", selected=3), CFG)["route"] == "rollback"
    assert judge_select(selected("sft", selected=30), CFG)["route"] == "train"
    # Plenty of rows do not make a DPO round: DPO trains on pairs, GRPO on tasks with mixed outcomes.
    dpo = judge_select(selected("dpo", selected=30, pairs=2), CFG)
    assert dpo["route"] == "rollback" and "pairs" in dpo["reason"]
    assert judge_select(selected("dpo", pairs=8), CFG)["route"] == "train"
    assert judge_select(selected("grpo", selected=30, grpo_prompts=3), CFG)["route"] == "rollback"
    assert judge_select(selected("grpo", grpo_prompts=4), CFG)["route"] == "train"


def diagnostics(rates, rows, pairs, prompts, k=4):
    outcomes = {f"t{i}": [j < round(r * k) for j in range(k)] for i, r in enumerate(rates)}
    return data_diagnostics(outcomes, rows, pairs, prompts)


def test_data_diagnostics_measure_the_spread_of_per_task_pass_rates():
    d = diagnostics([0.0, 0.5, 1.0, 0.25], rows=5, pairs=3, prompts=2)
    assert d["tasks"] == 4 and d["mixed_tasks"] == 2 and d["solved_tasks"] == 3
    assert d["mean_pass_rate"] == pytest.approx(0.4375)
    assert d["pass_rate_spread"] == pytest.approx(0.3698, abs=1e-3)
    assert diagnostics([0.5] * 6, 1, 1, 1)["pass_rate_spread"] == 0


def test_the_trainer_is_chosen_from_the_data_and_says_why():
    weak = diagnostics([0.0] * 30 + [0.25] * 10, rows=10, pairs=10, prompts=10)
    assert choose_trainer("auto", weak, CFG)[0] == "sft"
    strong = diagnostics([0.75] * 20 + [1.0] * 20, rows=40, pairs=20, prompts=20)
    method, reason = choose_trainer("auto", strong, CFG)
    assert method == "dpo" and "20 pairs" in reason
    thin = diagnostics([0.0] * 30 + [0.25] * 5, rows=5, pairs=5, prompts=5)
    method, reason = choose_trainer("auto", thin, CFG)
    assert method == "grpo" and "5 tasks with mixed outcomes" in reason
    assert choose_trainer("grpo", weak, CFG)[0] == "grpo"  # --trainer overrides the choice


def test_dpo_gives_way_to_sft_when_the_time_left_affords_less_than_one_pass_over_its_pairs():
    """The default goal's seed 6 (measured): a last round whose attempts passed 52% got 137 s of training, 12 DPO
    steps over 177 pairs (loss 0.693 -> 0.668), and its candidate gained 2 held-out tasks (p = 0.25)."""
    strong = diagnostics([0.5] * 20 + [0.75] * 20, rows=300, pairs=177, prompts=20)
    method, reason = choose_trainer("auto", strong, CFG, dpo_steps=12.0)
    assert method == "sft" and "12 DPO steps" in reason and "177 pairs (22 steps)" in reason
    assert choose_trainer("auto", strong, CFG, dpo_steps=23.0)[0] == "dpo"  # a pass fits: contrast as before
    assert choose_trainer("auto", strong, CFG, dpo_steps=None)[0] == "dpo"  # no budget, nothing timed yet
    assert choose_trainer("dpo", strong, CFG, dpo_steps=1.0)[0] == "dpo"  # --trainer dpo is obeyed
    few_rows = diagnostics([0.75] * 40, rows=4, pairs=177, prompts=20)  # too few rows to imitate: DPO still
    assert choose_trainer("auto", few_rows, CFG, dpo_steps=12.0)[0] == "dpo"


def probe(champion_chars, candidate_chars, champion_distinct=1.0, candidate_distinct=1.0):
    return {
        "champion": {"mean_chars": champion_chars, "distinct": champion_distinct},
        "candidate": {"mean_chars": candidate_chars, "distinct": candidate_distinct},
    }


def test_the_train_gate_rejects_collapsed_outputs():
    falling = [2.0, 1.5, 1.0, 0.8]
    ok = judge_train(state_with(train={"losses": falling, "probe": probe(200, 180)}), CFG)
    assert ok["route"] == "evaluate"
    short = judge_train(state_with(train={"losses": falling, "probe": probe(200, 20)}), CFG)
    assert short["route"] == "rollback" and "length" in short["reason"]
    same = judge_train(state_with(train={"losses": falling, "probe": probe(200, 200, 1.0, 0.1)}), CFG)
    assert same["route"] == "rollback" and "diversity" in same["reason"]


def test_the_train_gate_judges_grpo_by_its_rewards_not_its_loss():
    flat_loss = [0.0, 0.01, 0.02, 0.0]
    learned = {"losses": flat_loss, "method": "grpo", "metrics": {"reward": [0.2, 0.5], "reward_std": [0.4, 0.3]}}
    assert judge_train(state_with(train=learned), CFG)["route"] == "evaluate"
    no_signal = {**learned, "metrics": {"reward": [0.0, 0.0], "reward_std": [0.0, 0.0]}}
    decision = judge_train(state_with(train=no_signal), CFG)
    assert decision["route"] == "rollback" and "equal rewards" in decision["reason"]


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
    cfg = RunConfig.build(goal="g", rounds=2, tasks_per_round=10)
    p = plan_round(cfg, 1, {}, (1, 2, 3))
    assert sum(p.tasks_per_level.values()) == 10 and not p.stop
    assert plan_round(cfg, 3, {}, (1, 2, 3)).stop


def test_the_bootstrap_interval_brackets_the_observed_difference():
    from autodidact.agent.stats import compare, paired_bootstrap_ci

    before = [True] * 30 + [False] * 70
    after = [True] * 30 + [True] * 15 + [False] * 55
    result = compare(before, after)
    low, high = result["ci"]
    assert result["diff"] == pytest.approx(0.15) and low < 0.15 < high and low > 0
    assert paired_bootstrap_ci(before, before) == (0.0, 0.0)
    noisy = [True, False] * 50
    swapped = [False, True] * 50
    low, high = paired_bootstrap_ci(noisy, swapped)
    assert low < 0 < high


def test_a_spent_budget_closes_the_round_after_acquire_select_or_train_but_not_after_evaluate_work():
    from autodidact.agent.gate import enforce_budget

    config = RunConfig.build(goal="g", budget={"train_steps": 10})
    spent = {"usage": {"train_steps": 12}}
    forward = {"verdict": "forward", "route": "refine", "reason": "fine"}
    closed = enforce_budget("acquire", dict(forward), {**state_with(), **spent}, config)
    assert (closed["verdict"], closed["route"]) == ("stop", "rollback") and "train_steps budget is spent" in closed[
        "reason"
    ]
    trained = enforce_budget("train", {"verdict": "forward", "route": "evaluate", "reason": "r"}, spent, config)
    assert trained["route"] == "evaluate", "a trained candidate is still evaluated"
    assert enforce_budget("acquire", dict(forward), {"usage": {"train_steps": 3}}, config)["route"] == "refine"
