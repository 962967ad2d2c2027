"""Rounds sized to the wall budget from measured rates, and samples spent in waves where they teach."""

from __future__ import annotations

import random

import pytest

from autodidact.agent.config import RunConfig
from autodidact.agent.planning.budget import size_round
from autodidact.agent.waves import Tally, first_wave, next_wave, useful_share


def finished(attempts: int, acquire_s: float, spent_s: float) -> dict:
    return {"counts": {"attempts": attempts, "acquire_s": acquire_s}, "spent_s": spent_s, "eval": {"n": 100}}


def test_the_first_round_takes_the_configured_size():
    config = RunConfig.build(tasks_per_round=160, budget={"wall_s": 1800})
    sizing = size_round(config, [], spent_s=0)
    assert sizing.tasks == 160 and sizing.stop is None


@pytest.mark.parametrize("rate, overhead", [(3.0, 200.0), (1.0, 400.0), (10.0, 60.0), (0.5, 100.0)])
def test_rounds_sized_from_the_rates_never_run_past_the_budget(rate, overhead):
    """Whatever the rates, the rounds the planner sizes (each taking what the rates predict) end within the
    budget, the held-back reserve included, and they use most of it."""
    budget, reserve, k = 1800.0, 120.0, 4
    config = RunConfig.build(tasks_per_round=160, samples_per_task=k, budget={"wall_s": budget})
    first = 160 * k / rate + overhead
    history, spent = [finished(160 * k, 160 * k / rate, first)], first
    rounds = 1
    while True:
        sizing = size_round(config, history, spent, reserve_s=reserve)
        if sizing.stop:
            assert "does not fit" in sizing.stop
            break
        took = sizing.tasks * k / rate + overhead
        assert took == pytest.approx(sizing.numbers["predicted_s"], abs=0.2)
        assert spent + took <= budget - reserve + 1e-6, (spent, took)
        history.append(finished(sizing.tasks * k, sizing.tasks * k / rate, took))
        spent += took
        rounds += 1
        assert rounds < 50
    if first < budget - reserve:  # a budget that held more than one round was mostly spent
        assert spent >= 0.6 * (budget - reserve) or rounds == 1


def test_no_round_is_planned_when_even_a_small_one_does_not_fit():
    config = RunConfig.build(tasks_per_round=160, samples_per_task=4, budget={"wall_s": 600})
    sizing = size_round(config, [finished(640, 300.0, 500.0)], spent_s=500.0)
    assert sizing.tasks == 0 and "does not fit the wall budget" in sizing.stop


def test_without_a_wall_budget_rounds_keep_their_size():
    config = RunConfig.build(tasks_per_round=50, budget={"wall_s": 0})
    assert size_round(config, [finished(200, 100.0, 300.0)], spent_s=10_000).tasks == 50


def simulate(k: int, tasks: list[tuple[int, float]], enough: int = 2, seed: int = 0) -> tuple[dict, int, int]:
    """Waves over tasks given as (level, chance of a right answer): the tallies, the samples spent, and the waves."""
    rng = random.Random(seed)
    tallies = {f"t{i}": Tally(level) for i, (level, _) in enumerate(tasks)}
    chance = {f"t{i}": p for i, (_, p) in enumerate(tasks)}
    budget = len(tasks) * k
    wave = {tid: first_wave(k) for tid in tallies}
    spent = waves = 0
    while wave:
        assert sum(wave.values()) <= budget - spent
        for tid, m in wave.items():
            for _ in range(m):
                tallies[tid].tries += 1
                tallies[tid].passes += rng.random() < chance[tid]
        spent += sum(wave.values())
        waves += 1
        wave = next_wave(tallies, budget - spent, per_task=first_wave(k), enough=enough, cap=2 * k)
    return tallies, spent, waves


def test_waves_never_exceed_the_planned_samples_and_move_them_to_tasks_that_teach():
    # Level 1 always right, level 5 never, levels 2-3 in between.
    tasks = [(1, 1.0)] * 40 + [(2, 0.5)] * 40 + [(3, 0.2)] * 40 + [(5, 0.0)] * 40
    tallies, spent, waves = simulate(4, tasks)
    assert spent <= len(tasks) * 4 and waves >= 2
    by_level = {lvl: [t for t in tallies.values() if t.level == lvl] for lvl in (1, 2, 3, 5)}
    assert all(t.tries == 2 for t in by_level[1])  # two verified answers each: enough, no more
    assert all(t.tries == 2 for t in by_level[5])  # hopeless level: no more after the first wave
    # The freed samples went to the levels in between: more than the fixed k=4 there, on average.
    assert sum(t.tries for t in by_level[2] + by_level[3]) > 4 * 80
    rng = random.Random(0)
    fixed = {f"t{i}": Tally(level, 4, sum(rng.random() < p for _ in range(4))) for i, (level, p) in enumerate(tasks)}
    assert useful_share(tallies) > useful_share(fixed) + 0.1  # today's fixed k=4 on the same tasks


def test_one_sample_per_task_is_a_single_wave():
    tallies, spent, waves = simulate(1, [(1, 0.5)] * 10)
    assert waves == 1 and spent == 10


def test_training_gets_the_time_the_rest_of_the_round_and_the_final_benchmark_leave(tmp_path):
    from autodidact.agent.context import RunContext
    from autodidact.agent.nodes.train import MIN_TRAIN_S, training_seconds
    from autodidact.agent.rundir import RunDir

    config = RunConfig.build(budget={"wall_s": 1800}, transfer="none")
    ctx = RunContext(config=config, run=RunDir(tmp_path), quiet=True)
    done = {"counts": {"acquire_s": 300.0}, "train": {"duration_s": 200.0}, "spent_s": 700.0, "eval": {"n": 100}}
    state = {"usage": {"wall_s": 1000.0}, "history": [done]}
    assert training_seconds(state, ctx) == 1800 - 1000 - (700 - 300 - 200)
    # The default run's seed 0 (measured): round 1's rest was 159 s, 90 s of it the starting model's evaluation,
    # which round 2 did not repeat (its rest took 44 s); round 2's training was sized 110 s short of its time.
    done["eval"]["once_s"] = 90.0
    assert training_seconds(state, ctx) == 1800 - 1000 - (700 - 300 - 200 - 90)
    state["usage"]["wall_s"] = 1700.0  # nothing left: training still gets its minimum
    assert training_seconds(state, ctx) == MIN_TRAIN_S
    ctx.config.budget.wall_s = 0
    assert training_seconds(state, ctx) == 0.0


def test_a_last_round_trains_for_the_time_no_further_round_could_use(tmp_path):
    """The default run's seed 0 (measured): round 2 had 408 s for training and stopped at the 36-step cap after
    233 s; the next round needed 357 s, so 267 s went unused. Such a round now takes the steps that fit, and the
    epochs follow; a round with time for another round after it keeps the cap."""
    from autodidact.agent.context import RunContext
    from autodidact.agent.nodes.train import STEP_MARGIN, method_params, step_budget
    from autodidact.agent.rundir import RunDir

    config = RunConfig.build(tasks_per_round=160, samples_per_task=4, budget={"wall_s": 1800}, transfer="none")
    ctx = RunContext(config=config, run=RunDir(tmp_path), quiet=True)
    cap = config.training.max_steps_per_round
    round_1 = {**finished(630, 287.0, 584.0), "train": {"method": "sft", "steps": 24, "duration_s": 149.0}}
    state = {"history": [round_1]}
    steps, why = step_budget(state, ctx, 407.9, "sft")
    assert steps == int(STEP_MARGIN * 407.9 / (149.0 / 24)) > cap and "last round" in why
    epochs = method_params("sft", config, 336, 2, steps).epochs
    assert epochs == pytest.approx(steps * config.training.batch_size / 336, abs=1e-3)
    assert method_params("sft", config, 40, 2, steps).epochs == config.training.epochs  # the epochs still cap
    plenty = 2000.0  # another round fits after the capped training: the cap stays
    assert step_budget(state, ctx, plenty, "sft")[0] == cap
    assert step_budget({"history": []}, ctx, 407.9, "sft")[0] == cap  # no step time measured yet
    # The arithmetic run's DPO round was told "563 s would be left" from SFT's 7 s steps; its steps took 23 s.
    steps, why = step_budget(state, ctx, 407.9, "dpo")
    assert steps == cap and "no dpo step timed" in why
    assert step_budget(state, ctx, 0.0, "sft")[0] == cap  # no wall budget
    assert step_budget(state, ctx, 200.0, "sft")[0] == cap  # the cap does not fit anyway: max_seconds stops training


def test_the_heldout_set_grows_with_the_wall_budget_unless_someone_chose_its_size():
    from autodidact.agent.run import configure

    goal = "get better at writing small Python functions"
    assert configure(goal).evaluation.heldout_tasks == 200  # the default 30 minutes
    assert configure(goal, {"budget.wall_s": 900}).evaluation.heldout_tasks == 100
    assert configure(goal, {"budget.wall_s": 300}).evaluation.heldout_tasks == 100  # never below the configured size
    assert configure(goal, {"budget.wall_s": 7200}).evaluation.heldout_tasks == 400
    assert configure(goal, {"budget.wall_s": 36000}).evaluation.heldout_tasks == 400  # at most 4 times
    assert configure(goal, {"budget.wall_s": 0}).evaluation.heldout_tasks == 100  # no wall budget
    assert configure(goal, {"budget.wall_s": 7200, "heldout_tasks": 150}).evaluation.heldout_tasks == 150
    # A family's own size stays (the addition proving ground evaluates 600).
    assert configure("add numbers", {"tasks": "addition", "budget.wall_s": 7200}).evaluation.heldout_tasks == 600
