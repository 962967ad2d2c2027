"""One round of each trainer from the same champion on the same acquired data, judged on the same held-out set.

    python bench/trainers.py --run-dir runs/bench-trainers [--methods sft,dpo,grpo] [run options...]

Runs the graph once up to the gate after select (plan, acquire, refine, select: the data every method shares),
then, for each method, trains a candidate from the starting model in a copy of that run directory and
evaluates it against the starting model on the held-out tasks. Prints one row per method: the data it trained
on, steps, training wall time, the train gate's verdict, the guard set (a candidate that forgot is not evaluated
further: a run would blend it), held-out pass@1 before and after, and the one-sided
exact McNemar p-value. Run options (--tasks-per-round, --samples, --heldout-tasks, --train-param, ...) are
those of `autodidact run`.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from langgraph.checkpoint.sqlite import SqliteSaver

from autodidact.agent.cli import build_parser, quiet_libraries
from autodidact.agent.cli.run_commands import config_from_args
from autodidact.agent.context import RunContext
from autodidact.agent.gate import TRAINING_DATA, judge_train
from autodidact.agent.graph import THREAD, build_graph
from autodidact.agent.nodes.evaluate import evaluate
from autodidact.agent.nodes.train import train
from autodidact.agent.run import create_run, open_run
from autodidact.agent.rundir import RunDir
from autodidact.trainers import TRAINERS


def acquire_once(args: argparse.Namespace, run_dir: Path) -> tuple[RunContext, dict[str, Any]]:
    """The run up to the gate after select (resumed if `run_dir` already holds it)."""
    if RunDir.is_run(run_dir):
        ctx, initial = open_run(run_dir, quiet=False), None
    else:
        ctx, initial = create_run(run_dir, config_from_args(args), quiet=False)
    app = build_graph(ctx).compile(
        checkpointer=SqliteSaver(sqlite3.connect(ctx.run.db_path, check_same_thread=False)),
        interrupt_after=["gate_select"],
    )
    snapshot = app.get_state(THREAD)
    if not snapshot.values or snapshot.next != ("train",):
        app.invoke(initial, THREAD, durability="sync")
        snapshot = app.get_state(THREAD)
    if snapshot.next != ("train",):
        sys.exit(f"the round did not reach training: {snapshot.values['decisions'][-1]['reason']}")
    return ctx, dict(snapshot.values)


def one_method(method: str, ctx: RunContext, state: dict[str, Any], target: Path) -> dict[str, Any]:
    shutil.rmtree(target, ignore_errors=True)
    copy_run = RunDir(target)
    shutil.copytree(
        ctx.run.path,
        target,
        ignore=shutil.ignore_patterns(
            copy_run.model_dir(0).parent.name, copy_run.log_dir(0).parent.name, copy_run.db_path.name + "*"
        ),
    )
    config = replace(ctx.config, training=replace(ctx.config.training, trainer=method))
    copy = RunContext(config=config, run=copy_run, _sandbox=ctx.sandbox)
    current = dict(state["current"], trainer={**state["current"]["trainer"], "method": method, "reason": "bench"})
    state = {**state, "current": current}
    start = time.monotonic()
    state.update(train(state, copy))  # type: ignore[arg-type]
    train_s = time.monotonic() - start
    rec = state["current"]["train"]
    row = {
        "method": method,
        "data": f"{state['current']['counts'][TRAINING_DATA[TRAINERS[method].data][1]]} {TRAINERS[method].data}",
        "steps": rec.get("steps", 0),
        "train_s": round(rec.get("duration_s", train_s), 1),
        "node_s": round(train_s, 1),
    }
    if rec.get("error"):
        return {**row, "gate": f"error: {rec['error']}"}
    decision = judge_train(state, copy.config)  # type: ignore[arg-type]
    row["gate"] = decision["verdict"]
    state.update(evaluate(state, copy))  # type: ignore[arg-type]
    ev = state["current"]["eval"]
    copy.forget(state["candidate"])
    guard = f"{ev['guard']['candidate_pass']}/{ev['guard']['n']}"
    if "candidate_pass1" not in ev:  # it forgot guard tasks: evaluate left its held-out set to a blend
        return {**row, "guard": f"{guard} (forgot)"}
    keys = ("n", "champion_pass1", "candidate_pass1", "gained", "lost", "p_value")
    return {**row, "guard": guard, **{k: ev[k] for k in keys}}


def main() -> None:
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--methods", default="sft,dpo,grpo")
    own.add_argument("--run-dir", type=Path, required=True)
    mine, rest = own.parse_known_args()
    goal = "get better at writing small Python functions"
    args = build_parser().parse_args(["run", goal, "--run-dir", str(mine.run_dir), *rest])
    quiet_libraries()
    ctx, state = acquire_once(args, mine.run_dir)
    counts = state["current"]["counts"]
    print(f"data: {counts}  diagnostics: {state['current']['trainer']['diagnostics']}", flush=True)
    # The starting model's held-out results, computed once and shared by every copy.
    ctx.eval_results(state["champion"], "base")
    rows = []
    for method in mine.methods.split(","):
        rows.append(one_method(method, ctx, state, mine.run_dir.parent / f"{mine.run_dir.name}-{method}"))
        print(rows[-1], flush=True)
    ctx.close()
    print(
        "\n| method | trained on | steps | train wall s | train gate | guard | held-out pass@1 before -> after | +/- | p |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        result = (
            f"{r['champion_pass1']}/{r['n']} -> {r['candidate_pass1']}/{r['n']} | +{r['gained']} -{r['lost']} | "
            f"{r['p_value']:.2g}"
            if "n" in r
            else "- | - | -"
        )
        print(
            f"| {r['method']} | {r['data']} | {r['steps']} | {r['train_s']} | {r['gate']} | {r.get('guard', '-')} | {result} |"
        )


if __name__ == "__main__":
    main()
