"""The evaluator: it cannot be fooled by a worse candidate, it promotes a better one, it keeps evaluation tasks
out of training, it stops when the budget is spent, and it can wait for a person before promoting."""

from __future__ import annotations

import json
import random
import shutil
from collections import Counter
from pathlib import Path

import pytest
from conftest import tiny_run_args
from conftest import trace_of as trace

from autodidact.agent.cli import main
from autodidact.agent.config import RunConfig
from autodidact.agent.context import RunContext
from autodidact.agent.gate import judge_evaluate, judge_plan
from autodidact.agent.nodes.evaluate import evaluate
from autodidact.agent.nodes.select import select
from autodidact.agent.rundir import RunDir, write_jsonl
from autodidact.tools.generate import Generator
from autodidact.tools.tasks.python_functions import make_task, training_templates
from autodidact.trainers import SFTParams, train_sft

SEEDS = [0, 1, 2, 3, 4]


def finetune(base: Path, target: Path, *, wrong: bool, seed: int = 0) -> Path:
    """The tiny model trained further on level-1 tasks: on reference solutions, or on wrong answers only."""
    gen = Generator(str(base))
    rng = random.Random(100 + seed)
    pool = [t for t in training_templates() if t.level == 1]
    rows = []
    for _ in range(200):
        task = make_task(rng.choice(pool), rng, "train")
        answer = f"def {task.entry_point}(*args):\n    return None" if wrong else task.reference
        rows.append({"prompt": gen.chat_prompt(task.prompt), "completion": f"```python\n{answer}\n```"})
    params = SFTParams(epochs=4, learning_rate=1e-2, batch_size=16, bf16=False, seed=seed)
    train_sft(base=str(base), rows=rows, output_dir=target, params=params, progress=False)
    return target


@pytest.fixture(scope="module")
def candidates(warm_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("candidates")
    return {
        "degraded": finetune(warm_model, root / "degraded", wrong=True),
        "better": finetune(warm_model, root / "better", wrong=False),
    }


def judged(champion: Path, candidate: Path, run_dir: Path, seed: int) -> dict:
    """The gate's verdict on `candidate` against `champion`, with no retry: a candidate that forgot is evaluated on
    the held-out set as well, not left to a blend (whose own evaluation the same gate judges: tests/test_loop.py)."""
    config = RunConfig.build(goal="g", seed=seed, levels=[1], heldout_tasks=40, guard_tasks=40, max_retries=0)
    ctx = RunContext(config=config, run=RunDir.create(run_dir, config), quiet=True)
    ctx.make_heldout()
    state = {"round": 1, "base_model": str(champion), "champion": str(champion), "candidate": str(candidate)}
    state["current"] = evaluate({**state, "current": {"round": 1}}, ctx)["current"]
    ctx.close()
    return judge_evaluate(state, config)


def test_a_candidate_trained_on_wrong_answers_is_never_promoted(warm_model, candidates, tmp_path):
    for seed in SEEDS:
        decision = judged(warm_model, candidates["degraded"], tmp_path / f"run-{seed}", seed)
        assert decision["route"] == "rollback", decision["reason"]
        assert decision["numbers"]["candidate_pass1"] < decision["numbers"]["champion_pass1"]


def test_a_genuinely_better_candidate_is_promoted(warm_model, candidates, tmp_path):
    for seed in SEEDS:
        decision = judged(warm_model, candidates["better"], tmp_path / f"run-{seed}", seed)
        assert decision["route"] == "promote", decision["reason"]
        low, high = decision["numbers"]["ci"]
        assert 0 < low <= decision["numbers"]["diff"] <= high
        guard = decision["numbers"]["guard"]
        assert 0 < guard["champion_pass"] <= guard["n"] and guard["candidate_pass"] >= guard["champion_pass"]


def test_the_starting_model_is_judged_on_the_guard_set_as_its_candidates_are(tmp_path):
    """The guard set is the candidates the starting model solved, all decoded together; decoded as the guard set,
    in other batches, its greedy bf16 answers differ (on the default goal it solved 33 of seed 6's 36). Its figure
    is that evaluation, not the n it had by construction: the data/eval caches (one file per model and set) stand
    for the models' answers here."""
    from autodidact.agent.nodes.evaluate import guard_counts

    config = RunConfig.build(goal="g", levels=[1], heldout_tasks=10, guard_tasks=10)
    ctx = RunContext(config=config, run=RunDir.create(tmp_path / "run", config), quiet=True)
    ctx.make_heldout()
    candidates = ctx.guard_candidates()

    def results(key: str, tasks: list, failed: set[int]) -> None:
        rows = [{"task_id": t.id, "passed": i not in failed} for i, t in enumerate(tasks)]
        write_jsonl(ctx.run.eval_file(key), rows)

    results("guard-base", candidates, failed={0, 1})  # chose the guard set: the 8 others
    guard = ctx.guard("start")
    assert len(guard) == len(candidates) - 2
    results("guard-start", guard, failed={3})
    results("guard-round-1", guard, failed={3, 5})
    state = {"base_model": "start", "champion": "start", "candidate": str(tmp_path / "run" / "models" / "round-1")}
    counts = guard_counts(state, ctx, {})
    assert counts == {"n": 8, "champion_pass": 7, "candidate_pass": 6, "regression": 0.125}
    ctx.close()


def test_forgetting_on_the_guard_set_blocks_a_promotion():
    config = RunConfig.build(goal="g", guard_tolerance=0.05)
    ev = {"n": 100, "champion_pass1": 30, "candidate_pass1": 45, "gained": 15, "lost": 0, "p_value": 1e-4}
    ok = {"n": 40, "champion_pass": 40, "candidate_pass": 39, "regression": 0.025}
    forgot = {"n": 40, "champion_pass": 40, "candidate_pass": 30, "regression": 0.25}
    state = {"round": 1, "current": {"eval": {**ev, "diff": 0.15, "ci": [0.08, 0.22], "guard": ok}}}
    assert judge_evaluate(state, config)["route"] == "promote"
    state["current"]["eval"]["guard"] = forgot
    decision = judge_evaluate(state, config)  # first blended with the champion (nodes/blend.py), never promoted
    assert decision["route"] == "blend" and "forgot: guard set 30/40" in decision["reason"]
    state["current"]["retries"] = {"evaluate": 1}
    decision = judge_evaluate(state, config)
    assert decision["route"] == "rollback" and "forgot: guard set 30/40" in decision["reason"]


def test_select_removes_every_planted_heldout_and_guard_task(tiny_model, tmp_path):
    config = RunConfig.build(goal="g", levels=[1], heldout_tasks=20, guard_tasks=20)
    ctx = RunContext(config=config, run=RunDir.create(tmp_path / "run", config), quiet=True)
    ctx.make_heldout()
    protected = ctx.heldout() + ctx.guard_candidates()
    taken = frozenset(t.prompt for t in protected)
    honest = ctx.family("python-functions").generate(split="train", difficulty=1, n=10, seed=9, exclude_prompts=taken)
    planted = []
    for i, task in enumerate(protected[:12]):
        prompt = task.prompt if i % 2 else "  " + task.prompt.replace(" ", "  ").upper()  # copies and near-copies
        planted.append(task.to_dict() | {"id": f"planted-{i}", "split": "train", "prompt": prompt})
    for i, task in enumerate(protected[12:16], start=12):  # the same tasks asked as stubs: only the wording differs
        stub = f"Complete this Python function.\n\n```python\ndef {task.entry_point}(...):\n    ...\n```"
        hidden = task.hidden | {"plain_prompt": task.prompt}
        planted.append(task.to_dict() | {"id": f"planted-{i}", "split": "train", "prompt": stub, "hidden": hidden})
    tasks = [t.to_dict() for t in honest] + planted
    attempts = [
        {"task_id": t["id"], "sample": s, "difficulty": 1, "completion": f"```python\n{t['reference']}\n```",
         "passed": s == 0, "feedback": "", "stopped": None}
        for t in tasks for s in range(2)
    ]  # fmt: skip
    folder = ctx.run.round_dir(1)
    write_jsonl(folder / "tasks.jsonl", tasks)
    write_jsonl(folder / "attempts.jsonl", attempts)
    write_jsonl(folder / "repairs.jsonl", [])
    files = {k: f"data/round-1/{k}.jsonl" for k in ("tasks", "attempts", "repairs")}
    current = {"files": files, "counts": {}, "plan": {"family": "python-functions"}}
    state = {"round": 1, "champion": str(tiny_model), "history": [], "current": current}
    current = select(state, ctx)["current"]
    counts = current["counts"]
    assert counts["heldout_overlap_dropped"] == 2 * len(planted), counts  # every attempt at a planted task
    assert set(counts["decontaminated"]) <= {"prompt_exact", "prompt_ngram"} and counts["protected_overlap_after"] == 0
    for name in ("selected", "pairs", "prompts"):
        for line in (ctx.run.path / current["files"][name]).read_text().splitlines():
            assert not json.loads(line)["task_id"].startswith("planted-")
    assert counts["selected"] == len(honest)
    ctx.close()


def _round_of_verified_tasks(ctx: RunContext, round_no: int, n: int) -> dict[str, str]:
    """Round `round_no`'s data files: `n` fresh level-1 tasks, each answered once with its reference."""
    family = ctx.family("python-functions")
    tasks = [t.to_dict() for t in family.generate(split="train", difficulty=1, n=n, seed=round_no)]
    for t in tasks:
        t["id"] = f"r{round_no}-{t['id']}"
    attempts = [
        {"task_id": t["id"], "sample": 0, "difficulty": 1, "completion": f"```python\n{t['reference']}\n```",
         "passed": True, "feedback": "", "stopped": None}
        for t in tasks
    ]  # fmt: skip
    folder = ctx.run.round_dir(round_no)
    write_jsonl(folder / "tasks.jsonl", tasks)
    write_jsonl(folder / "attempts.jsonl", attempts)
    write_jsonl(folder / "repairs.jsonl", [])
    return {k: f"data/round-{round_no}/{k}.jsonl" for k in ("tasks", "attempts", "repairs")}


@pytest.mark.parametrize(
    ("accumulate", "rolled_back", "rounds"),
    [(True, True, {1, 2, 3, 4}), (False, True, {3, 4}), (False, False, {4})],
)
def test_select_trains_on_the_rounds_it_is_told_to_keep(tiny_model, tmp_path, accumulate, rolled_back, rounds):
    """Round 1 was rolled back, round 2 promoted, round 3 rolled back: without accumulate, round 4 still pools
    round 3's rows (the same champion sampled them) unless told not to, and never round 1's or 2's."""
    config = RunConfig.build(goal="g", levels=[1], heldout_tasks=10, guard_tasks=10)
    config.selection.accumulate, config.selection.accumulate_rolled_back = accumulate, rolled_back
    ctx = RunContext(config=config, run=RunDir.create(tmp_path / "run", config), quiet=True)
    ctx.make_heldout()
    history = [{"round": r, "files": _round_of_verified_tasks(ctx, r, 6), "promoted": r == 2} for r in (1, 2, 3)]
    current = {"files": _round_of_verified_tasks(ctx, 4, 6), "counts": {}, "plan": {"family": "python-functions"}}
    state = {"round": 4, "champion": str(tiny_model), "history": history, "current": current}
    current = select(state, ctx)["current"]
    selected = [json.loads(line) for line in (ctx.run.path / current["files"]["selected"]).read_text().splitlines()]
    round_of = [int(row["task_id"].split("-")[0][1:]) for row in selected]
    assert set(round_of) == rounds
    assert current["counts"]["selected_from_earlier_rounds"] == sum(r != 4 for r in round_of)
    ctx.close()


def _level_one_run(tmp_path: Path, **selection: object) -> tuple[RunContext, frozenset[str]]:
    """A level-1 run with its held-out and guard tasks made and `selection` settings, and the prompts its practice
    tasks must avoid."""
    config = RunConfig.build(goal="g", levels=[1], heldout_tasks=10, guard_tasks=10)
    for name, value in selection.items():
        setattr(config.selection, name, value)
    ctx = RunContext(config=config, run=RunDir.create(tmp_path / "run", config), quiet=True)
    ctx.make_heldout()
    return ctx, frozenset(t.prompt for t in ctx.heldout() + ctx.guard_candidates())


def _attempt(task: dict, sample: int, passed: bool) -> dict:
    """An attempt at `task`: its reference when it passed, else a function that returns nothing."""
    code = task["reference"] if passed else "def f():\n    return None"
    return {"task_id": task["id"], "sample": sample, "difficulty": 1, "completion": f"```python\n{code}\n```",
            "passed": passed, "feedback": "", "stopped": None}  # fmt: skip


def _selected(
    ctx: RunContext, champion: Path, tasks: list[dict], attempts: list[dict], k: int = 4
) -> tuple[list[str], dict]:
    """Round 1 of `tasks` and `attempts` (a plan of `k` per task) through select: the task id of each line of SFT's
    file, and the counts."""
    folder = ctx.run.round_dir(1)
    write_jsonl(folder / "tasks.jsonl", tasks)
    write_jsonl(folder / "attempts.jsonl", attempts)
    write_jsonl(folder / "repairs.jsonl", [])
    files = {k: f"data/round-1/{k}.jsonl" for k in ("tasks", "attempts", "repairs")}
    current = {"files": files, "counts": {}, "plan": {"family": "python-functions", "samples_per_task": k}}
    current = select({"round": 1, "champion": str(champion), "history": [], "current": current}, ctx)["current"]
    lines = (ctx.run.path / current["files"]["selected"]).read_text().splitlines()
    return [json.loads(line)["task_id"] for line in lines], current["counts"]


@pytest.mark.parametrize("drop_solved", [True, False])
def test_select_leaves_out_the_tasks_every_attempt_solved(tiny_model, tmp_path, drop_solved):
    """Ten tasks passed in both attempts, ten in one of two, four in their only attempt: with drop_solved, the
    first ten give no rows (one attempt is not enough to call a task solved); when their rows are all there is,
    they are kept."""
    ctx, taken = _level_one_run(tmp_path, drop_solved=drop_solved)
    family = ctx.family("python-functions")
    tasks = [t.to_dict() for t in family.generate(split="train", difficulty=1, n=24, seed=5, exclude_prompts=taken)]
    solved, mixed, once = tasks[:10], tasks[10:20], tasks[20:]
    attempts = [_attempt(t, s, True) for t in solved for s in range(2)]
    attempts += [_attempt(t, s, s == 0) for t in mixed for s in range(2)] + [_attempt(t, 0, True) for t in once]
    ids, counts = _selected(ctx, tiny_model, tasks, attempts)
    expected = {t["id"] for t in (mixed + once if drop_solved else tasks)}
    assert set(ids) == expected and counts["solved_rows_dropped"] == (10 if drop_solved else 0)
    ids, counts = _selected(ctx, tiny_model, tasks, [a for a in attempts if a["task_id"] in {t["id"] for t in solved}])
    assert set(ids) == {t["id"] for t in solved} and counts["solved_rows_dropped"] == 0  # too few rows without them
    ctx.close()


@pytest.mark.parametrize(("repeat", "k", "times"), [(8, 4, 8), (1, 4, 1), (8, 1, 1)])
def test_select_repeats_the_rows_of_templates_the_champion_rarely_passes(tiny_model, tmp_path, repeat, k, times):
    """One template's attempts passed 1 of 12 (the frontier), another's 9 of 12: SFT's file holds the frontier's
    row `selection.frontier_repeat` times and every other row once; the counts say which and how many. A plan of
    one answer per task has no frontier (its rates are shares of tasks solved, not of samples)."""
    ctx, taken = _level_one_run(tmp_path, frontier_repeat=repeat)
    by_template: dict[str, list[dict]] = {}
    for t in ctx.family("python-functions").generate(split="train", difficulty=1, n=60, seed=7, exclude_prompts=taken):
        by_template.setdefault(t.template, []).append(t.to_dict())
    rare, common = (tasks[:3] for tasks in sorted(by_template.values(), key=len, reverse=True)[:2])
    attempts = [_attempt(t, s, t is rare[0] and s == 0) for t in rare for s in range(4)]
    attempts += [_attempt(t, s, s > 0) for t in common for s in range(4)]
    ids, counts = _selected(ctx, tiny_model, rare + common, attempts, k)
    lines = Counter(ids)
    assert lines.pop(rare[0]["id"]) == times
    assert set(lines) == {t["id"] for t in common} and set(lines.values()) == {1}  # one verified answer each
    assert counts["selected"] == 1 + len(common) and counts["frontier_copies"] == times - 1
    assert counts["frontier_rows"] == (1 if times > 1 else 0)
    assert counts["frontier_templates"] == ([rare[0]["template"]] if k > 1 else [])
    ctx.close()


def test_the_plan_gate_stops_on_a_spent_budget_or_lost_patience():
    plan = {"stop": False, "reason": "r", "n_tasks": 1, "levels": [1]}
    config = RunConfig.build(goal="g", budget={"tokens": 1000}, patience=2)
    fresh = {"round": 2, "current": {"plan": plan}, "usage": {"tokens": 10}, "history": [{"promoted": True}]}
    assert judge_plan(fresh, config)["route"] == "acquire"
    spent = judge_plan({**fresh, "usage": {"tokens": 1500}}, config)
    assert spent["verdict"] == "stop" and "tokens budget is spent (1500 of 1000)" in spent["reason"]
    idle = judge_plan({**fresh, "history": [{"promoted": True}, {"promoted": False}, {"promoted": False}]}, config)
    assert idle["verdict"] == "stop" and "2 rounds in a row without a promotion" in idle["reason"]


def test_a_spent_training_budget_ends_the_run_cleanly(warm_model, tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(tiny_run_args(warm_model, run_dir, "--budget", "steps=1", rounds=3)) == 0
    t = trace(run_dir, capsys)
    assert t["status"] == "finished" and len(t["rounds"]) == 1
    assert "train_steps budget is spent" in t["decisions"][-1]["reason"]
    assert t["usage"]["train_steps"] >= 1 and t["usage"]["tokens"] > 0 and t["usage"]["sandbox_s"] > 0


def test_a_promotion_can_wait_for_a_person(warm_model, tmp_path, capsys):
    run_dir = tmp_path / "run"
    # A lenient alpha: this test is about the pause for a person, not about how significant a tiny model's gain is.
    assert main(tiny_run_args(warm_model, run_dir, "--approve", "promote", "--alpha", "0.2", rounds=1)) == 0
    t = trace(run_dir, capsys)
    assert t["status"] == "awaiting approval" and t["awaiting"]["candidate"] == "models/round-1"
    assert main(["resume", str(run_dir), "--quiet"]) == 2  # it must be told which
    rejected = tmp_path / "rejected"
    shutil.copytree(run_dir, rejected)
    assert main(["resume", str(run_dir), "--approve", "--quiet"]) == 0
    approved = trace(run_dir, capsys)
    assert approved["status"] == "finished" and approved["champion"] == "models/round-1"
    assert "approved by a person" in [d for d in approved["decisions"] if d["stage"] == "evaluate"][-1]["reason"]
    assert main(["resume", str(rejected), "--reject", "--quiet"]) == 0
    t = trace(rejected, capsys)
    assert t["status"] == "finished" and t["champion"] == str(warm_model)
    assert "rejected by a person" in [d for d in t["decisions"] if d["stage"] == "evaluate"][-1]["reason"]
    assert not (rejected / "models/round-1/model.safetensors").exists()
