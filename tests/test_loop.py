"""The whole graph, end to end, on a tiny model built in the test: gate decisions, promotion, kill -9 + resume."""

from __future__ import annotations

import hashlib
import json
import signal
from pathlib import Path

import pytest
from conftest import assert_each_stage_decided_once, need_backend, signal_tiny_run, tiny_run_args
from conftest import trace_of as trace
from safetensors.torch import load_file

from autodidact.agent.cli import main
from autodidact.agent.gate import judge_evaluate
from autodidact.agent.planning.budget import unpaid_repairs

STAGES = ["plan", "acquire", "refine", "select", "train", "evaluate"]


def test_every_gate_decision_is_recorded_with_numbers(finished_run, capsys):
    t = trace(finished_run, capsys)
    assert t["status"] == "finished" and t["goal"] == "write small python functions"
    assert [r["round"] for r in t["rounds"]] == [1, 2]
    round1 = [d["stage"] for d in t["decisions"] if d["round"] == 1]
    assert round1 == STAGES, round1
    for d in t["decisions"]:
        assert d["verdict"] and d["reason"] and d["route"]
    assert t["decisions"][-1]["verdict"] == "stop"
    # Repairs go on while they pay: round 2 tries none exactly when round 1 tried a round's worth and verified
    # none that was not a copy of the failed attempt.
    max_repairs = json.loads((finished_run / "run.json").read_text())["config"]["sampling"]["max_repairs"]
    skip = unpaid_repairs([t["rounds"][0]], max_repairs)
    assert t["rounds"][1]["counts"].get("repairs_skipped") == skip
    if skip:
        assert t["rounds"][1]["counts"]["repairs_tried"] == 0
    for r in t["rounds"]:
        assert set(r["counts"]) >= {"tasks", "attempts", "verified", "repaired", "selected"}
        # k = 4 planned per task; the waves leave some unspent when no task can teach more (test_budget_and_waves.py)
        assert r["counts"]["planned_attempts"] == r["counts"]["tasks"] * 4
        assert r["counts"]["tasks"] <= r["counts"]["attempts"] <= r["counts"]["planned_attempts"]
        if r["eval"]:
            assert set(r["eval"]) >= {"n", "champion_pass1", "candidate_pass1", "p_value"}
            assert r["eval"]["n"] == 40
    # The starting model is evaluated once, in round 1 (held-out and guard candidates); round 2 evaluates only its
    # candidate, so the budget does not count round 1's extra seconds as a cost of every round.
    first, second = (r["eval"] for r in t["rounds"])
    assert first["once_s"] > second["once_s"] >= 0 and second["candidate_s"] > 0


def test_the_wall_budget_counts_the_commands_start_up(finished_run, capsys):
    """The budget runs from the command's start: the seconds before the graph (configuration, the model's check,
    the held-out set) are the session's `startup_s`, counted in round 1's spent seconds, and the end of the run
    after its last node is held back."""
    from autodidact.agent.planning.clock import FINISH_S

    sessions = [json.loads(line) for line in (finished_run / "sessions.jsonl").read_text().splitlines()]
    startup = sessions[0]["startup_s"]
    assert startup > 0
    t = trace(finished_run, capsys)
    assert t["startup_s"] == startup
    sizing = next(d for d in t["decisions"] if d["round"] == 1 and d["stage"] == "plan")["numbers"]["sizing"]
    assert sizing["spent_s"] == pytest.approx(startup, abs=0.05)  # the run has no transfer benchmark
    assert sizing["reserved_s"] == FINISH_S


def test_the_gate_promotes_exactly_the_significant_improvements(finished_run, capsys):
    t = trace(finished_run, capsys)
    evaluations = [d for d in t["decisions"] if d["stage"] == "evaluate"]
    assert evaluations
    for d in evaluations:
        n = d["numbers"]
        if n["candidate_pass1"] is None:  # it forgot: its held-out evaluation was left to its blend
            assert d["route"] == "blend" and n["guard"]["regression"] > 0.1, d
            continue
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
    status, _ = signal_tiny_run(warm_model, run_dir, "round 2: train: ", signal.SIGKILL)
    assert status == -signal.SIGKILL
    assert main(["resume", str(run_dir), "--quiet"]) == 0
    t = trace(run_dir, capsys)
    assert t["status"] == "finished"
    assert [r["round"] for r in t["rounds"]] == [1, 2]
    assert_each_stage_decided_once(t)
    for data_file in run_dir.rglob("*.jsonl"):
        for line in data_file.read_text().splitlines():
            json.loads(line)  # whole lines only
    assert not list((run_dir / "models").glob(".round-*")), "temporary training directories were left behind"
    # The trace shows where the run was killed and where it went on.
    nodes = [e["node"] for e in t["timeline"]]
    assert nodes.count("(interrupted)") == 1 and nodes.count("(resumed)") == 1
    cut = nodes.index("(interrupted)")
    assert "during train" in t["timeline"][cut]["reason"] and nodes[cut + 1] == "(resumed)"
    capsys.readouterr()
    assert main(["trace", str(run_dir)]) == 0
    text = capsys.readouterr().out
    assert "(interrupted)" in text and "(resumed)" in text and "resume continued" in text


@pytest.mark.docker
def test_a_round_in_the_docker_sandbox_gives_the_same_verdicts(finished_run, warm_model, tmp_path):
    """The graph's acquire with --sandbox docker: the same sampled attempts get the same verdicts as locally. The
    round stops after acquire's gate (what it compares); the rest of a round verifies in the same sandbox."""
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    from autodidact.agent.cli import build_parser
    from autodidact.agent.cli.run_commands import config_from_args
    from autodidact.agent.graph import THREAD, build_graph
    from autodidact.agent.run import create_run

    need_backend("docker")
    run_dir = tmp_path / "docker-run"
    args = build_parser().parse_args([*tiny_run_args(warm_model, run_dir, rounds=1), "--sandbox", "docker"])
    ctx, initial = create_run(run_dir, config_from_args(args))
    try:
        with sqlite3.connect(ctx.run.db_path, check_same_thread=False) as db:
            app = build_graph(ctx).compile(checkpointer=SqliteSaver(db), interrupt_after=["gate_acquire"])
            app.invoke(initial, THREAD, durability="sync")
            snapshot = app.get_state(THREAD)
    finally:
        ctx.close()  # the sandbox's containers
    assert snapshot.next == ("refine",) and snapshot.values["current"]["counts"]["verified"] > 0
    assert ctx.config.sandbox == "docker"

    def verdicts(run: Path) -> list[tuple[str, int, bool]]:
        rows = [json.loads(line) for line in (run / "data/round-1/attempts.jsonl").read_text().splitlines()]
        return [(r["task_id"], r["sample"], r["passed"]) for r in rows]

    assert verdicts(run_dir) == verdicts(finished_run)


def test_a_promoted_checkpoint_leads_back_to_the_sandbox_runs_of_its_rows(finished_run, capsys):
    t = trace(finished_run, capsys)
    promoted = [r for r in t["rounds"] if r["promoted"]]
    for r in t["rounds"]:
        assert r["method"] in ("sft", "dpo", "grpo") and r["trainer"]["reason"]
        assert r["parent"]
    for r in promoted:
        assert r["checkpoint"] == r["champion"]
        lineage = json.loads((finished_run / r["checkpoint"] / "lineage.json").read_text())
        assert lineage["parent"] == r["parent"] and lineage["method"] == r["method"]
        assert lineage["decision"]["verdict"] == "promote"
        hashed = {d["path"]: d["sha256"] for d in lineage["data"]}
        for path, digest in hashed.items():
            assert hashlib.sha256((finished_run / path).read_bytes()).hexdigest() == digest, path
        training_file = lineage["data"][0]["path"]
        for row in map(json.loads, (finished_run / training_file).read_text().splitlines()):
            file, line = row["origin"].rsplit(":", 1)
            assert file in hashed, "the row's source file is in the lineage"
            run = json.loads((finished_run / file).read_text().splitlines()[int(line) - 1])
            assert run["task_id"] == row["task_id"] and run["passed"], "the row was verified in the sandbox"
        card = (finished_run / r["checkpoint"] / "README.md").read_text()
        assert card.startswith("---\nbase_model: ") and f"- {r['method']}" in card


@pytest.mark.parametrize("method", ["dpo", "grpo"])
def test_each_trainer_runs_a_round_of_the_graph(method, warm_model, tmp_path, capsys):
    run_dir = tmp_path / method
    args = tiny_run_args(warm_model, run_dir)
    args[args.index("--rounds") + 1] = "1"
    assert main([*args, "--trainer", method, "--train-param", f"{method}.learning_rate=1e-3"]) == 0
    t = trace(run_dir, capsys)
    (r,) = t["rounds"]
    assert r["method"] == method and r["trainer"]["reason"].startswith(f"--trainer {method}")
    select = next(d for d in t["decisions"] if d["stage"] == "select")
    assert select["numbers"]["method"] == method
    train = next(d for d in t["decisions"] if d["stage"] == "train")
    assert train["reason"].startswith(method), train
    assert train["numbers"]["probe"]["candidate"]["mean_chars"] > 0
    lineage = json.loads((run_dir / "models/round-1/lineage.json").read_text())
    assert lineage["method"] == method and lineage["params"]["learning_rate"] == 1e-3
    assert (run_dir / "logs/round-1/log_history.jsonl").is_file()


def test_rollback_returns_the_champion_to_its_parent(finished_run, tmp_path, capsys):
    import shutil

    run_dir = tmp_path / "copy"
    shutil.copytree(finished_run, run_dir)
    t = trace(run_dir, capsys)
    champion = t["champion"]
    parent = json.loads((run_dir / champion / "lineage.json").read_text())["parent"]
    capsys.readouterr()
    assert main(["rollback", str(run_dir)]) == 0
    assert capsys.readouterr().out.strip() == f"champion: {parent}"
    after = trace(run_dir, capsys)
    assert after["status"] == "finished" and after["champion"] == parent
    assert after["decisions"][-1]["stage"] == "rollback"
    assert (run_dir / "champion").read_text().strip() == parent
    assert main(["rollback", str(run_dir), "--to", "models/round-9"]) == 2


def test_after_a_promotion_the_band_curriculum_measures_the_new_champion(finished_run):
    from autodidact.agent.nodes.plan import curriculum_plan
    from autodidact.agent.planning.budget import Sizing
    from autodidact.agent.planning.desk import PlannerDesk
    from autodidact.agent.run import open_run

    ctx = open_run(finished_run)
    family = ctx.family("python-functions")

    def sized(method):
        return Sizing(8)

    stale = {"1": [1, 10]}  # the old champion's acquire: 10%
    champion = ctx.resolve(ctx.run.store().champions()[-1]["champion"])
    for promoted in (True, False):
        state = {"champion": champion, "level_stats": stale, "history": [{"round": 1, "promoted": promoted}]}
        decided, probe, _ = curriculum_plan(ctx, state, 2, PlannerDesk(ctx, state, 2), family, Sizing(8), sized)
        if promoted:
            assert probe is not None and probe["1"][1] == ctx.config.curriculum.promotion_probe
            assert f"L1={probe['1'][0] / probe['1'][1]:.0%}" in decided.reason
            assert "the new champion greedy on 20 fresh tasks per level" in decided.reason
        else:
            assert probe is None and "L1=10%" in decided.reason


def test_a_round_whose_levels_the_champion_mostly_passes_is_sized_for_dpo(finished_run):
    """After SFT, a plan whose levels the champion passes 90% of is sized at DPO's step cost (select will choose
    DPO for such data); at 10% it keeps the SFT sizing."""
    from autodidact.agent.nodes.plan import curriculum_plan
    from autodidact.agent.planning.budget import Sizing
    from autodidact.agent.planning.desk import PlannerDesk
    from autodidact.agent.run import open_run

    ctx = open_run(finished_run)
    family = ctx.family("python-functions")
    asked: list = []

    def sized(method):
        asked.append(method)
        return Sizing(5, numbers={"method": method})

    history = [{"round": 1, "promoted": False, "train": {"method": "sft", "steps": 3, "duration_s": 6.0}}]
    for passes, expected in ((9, ["dpo"]), (1, [])):
        asked.clear()
        state = {"champion": "x", "level_stats": {"1": [passes, 10]}, "history": history}
        decided, _, sizing = curriculum_plan(ctx, state, 2, PlannerDesk(ctx, state, 2), family, Sizing(8), sized)
        assert asked == expected
        assert sum(decided.tasks_per_level.values()) == (5 if expected else 8)
        assert sizing.numbers.get("method") == (expected[0] if expected else None)


def test_a_candidate_that_forgot_is_blended_with_its_champion_and_only_the_blend_is_judged_on_the_heldout_set(
    warm_model, tmp_path, capsys, monkeypatch
):
    from autodidact.agent.nodes import evaluate

    # The tiny model's candidate keeps its whole guard set (28 of 28), so the first evaluation is told it lost two
    # guard tasks; the blend, the second evaluation and the gates run as they are. The guard set is checked first:
    # a candidate that forgot is never promoted, so its held-out evaluation is left to the blend.
    measured = evaluate.guard_counts
    calls = []

    def forgetful(state, ctx, timed):
        out = measured(state, ctx, timed)
        calls.append(state["candidate"])
        if len(calls) == 1:
            out = {**out, "candidate_pass": out["candidate_pass"] - 2, "regression": 2 / out["n"]}
        return out

    monkeypatch.setattr(evaluate, "guard_counts", forgetful)
    run_dir = tmp_path / "blend"
    assert main(tiny_run_args(warm_model, run_dir, "--alpha", "0.5", "--guard-tolerance", "0", rounds=1)) == 0
    assert calls == ["models/round-1", "models/round-1-blend"]
    t = trace(run_dir, capsys)
    first, *rest = [d for d in t["decisions"] if d["stage"] == "evaluate"]
    assert (first["verdict"], first["route"]) == ("retry", "blend"), first
    assert first["numbers"]["candidate_pass1"] is None and "not evaluated on the held-out set" in first["reason"]
    assert first["numbers"]["champion_pass1"] is not None
    (second,) = rest
    assert (
        second["route"] in ("promote", "rollback") and second["numbers"]["guard"]["n"] == first["numbers"]["guard"]["n"]
    )
    (r,) = t["rounds"]
    assert r["checkpoint"] == "models/round-1-blend" and r["blend"]["of"] == "models/round-1"
    assert r["blend"]["candidate_pass1"] is None and r["blend"]["once_s"] > 0
    assert not (run_dir / "data/eval/round-1.jsonl").exists() and (run_dir / "data/eval/guard-round-1.jsonl").exists()
    assert 0 < r["blend"]["blend_s"] < r["blend"]["once_s"]
    lineage = json.loads((run_dir / "models/round-1-blend/lineage.json").read_text())
    assert lineage["method"] == "blend" and lineage["parent"] == str(warm_model)
    assert lineage["metrics"]["blend_s"] == r["blend"]["blend_s"]
    assert lineage["params"] == {"alpha": 0.5, "candidate": "models/round-1", "trained_by": "sft"}
    original = json.loads((run_dir / "models/round-1/lineage.json").read_text())
    assert original["decision"]["route"] == "blend" and original["weights_deleted"]
    assert (run_dir / "data/eval/round-1-blend.jsonl").is_file()
    log = (run_dir / "run.log").read_text()
    assert "it forgot; the held-out set is left to its blend" in log and "blend: models/round-1 (held-out not" in log
    capsys.readouterr()
    assert main(["trace", str(run_dir), "--round", "1", "--stage", "evaluate", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    blended_rows = [json.loads(line) for line in (run_dir / "data/eval/round-1-blend.jsonl").read_text().splitlines()]
    assert shown["decision"] == second and [r["candidate"] for r in shown["rows"]] == [
        r["passed"] for r in blended_rows
    ]
    # A blend node resumed after it finished (killed before its result was checkpointed) finds its blend whole and
    # keeps it, though the candidate it came from has lost its weights.
    from autodidact.agent.nodes.blend import blend
    from autodidact.agent.run import open_run

    ctx = open_run(run_dir)
    state = {
        "round": 1, "champion": str(warm_model), "candidate": "models/round-1", "decisions": [first],
        "current": {"eval": first["numbers"]},
    }  # fmt: skip
    blended = (run_dir / "models/round-1-blend/model.safetensors").read_bytes()
    resumed = blend(state, ctx)
    assert resumed["candidate"] == "models/round-1-blend" and resumed["current"]["blend"]["blend_s"] is None
    assert (run_dir / "models/round-1-blend/model.safetensors").read_bytes() == blended
    assert json.loads((run_dir / "models/round-1-blend/lineage.json").read_text())["metrics"] == lineage["metrics"]
    # A candidate that forgot when no blend can follow (the round's retry spent) is evaluated on the held-out set
    # as well, and the gate rolls it back with its figures.
    calls.clear()  # the next guard count is told the candidate lost two tasks again
    spent = {
        **state, "candidate": "models/round-1-blend", "base_model": str(warm_model), "history": [],
        "current": {"retries": {"evaluate": 1}, "blend": r["blend"]},
    }  # fmt: skip
    ev = evaluate.evaluate(spent, ctx)["current"]["eval"]
    assert ev["candidate_pass1"] == sum(r["passed"] for r in blended_rows) and ev["guard"]["regression"] > 0
    verdict = judge_evaluate({**spent, "current": {**spent["current"], "eval": ev}}, ctx.config)
    assert verdict["route"] == "rollback" and verdict["numbers"]["candidate_pass1"] == ev["candidate_pass1"]
    ctx.close()
