"""`autodidact eval`: checkpoints side by side on a benchmark, pass@1 with a 95% interval each.

    autodidact eval runs/mine                          # the run's start model and each champion, on HumanEval
    autodidact eval runs/mine --bench heldout          # ... on the run's held-out set
    autodidact eval ./my-model other-model --bench tasks.jsonl
    autodidact eval ./my-model --bench runs/mine/heldout.jsonl   # any model on a run's held-out tasks

A run directory stands for its starting model and every checkpoint that became champion (`champions.jsonl`);
results a run already holds (its held-out evaluations, its transfer benchmark) are read, not recomputed. A task
file a run wrote (`heldout.jsonl`, `guard.jsonl`) is verified by its task family at the family's default answer
length, so a model that is not a run's checkpoint is scored on the run's own tasks. Each later checkpoint is
compared with the first one on the same tasks (one-sided exact McNemar).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ...tools.benchmarks import Benchmark, BenchmarkError, benchmark, evaluate
from ...tools.tasks import FAMILIES, Task, get_family
from ..config import SamplingConfig
from ..errors import UserError
from ..run import check_sandbox, open_run
from ..rundir import DamagedFile, RunDir, read_jsonl
from ..stats import compare, wilson_interval


def checkpoints(target: str) -> list[tuple[str, str, Any]]:
    """(label, location, the run's context or None) for a model, or for each champion of a run directory."""
    path = Path(target)
    if RunDir.is_run(path):
        ctx = open_run(path)
        seen: list[str] = []
        for entry in ctx.run.store().champions():
            if entry["champion"] not in seen:
                seen.append(entry["champion"])
        return [(f"{path.name}:{'start' if i == 0 else c}", c, ctx) for i, c in enumerate(seen)]
    return [(target, target, None)]


def run_task_file(name: str) -> Benchmark | None:
    """A task file a run wrote (rows of one task family's own tasks, such as its `heldout.jsonl`) as a benchmark
    that family verifies, answered at the length a run gives that family by default; None for any other file."""
    path = Path(name)
    if not path.is_file():
        return None
    try:
        tasks = [Task.from_dict(row) for row in read_jsonl(path)]
        names = {task.family for task in tasks}
    except (DamagedFile, TypeError):  # not jsonl, or rows that are not tasks
        return None
    if len(names) != 1 or not names <= set(FAMILIES):
        return None
    family = get_family(names.pop())
    return Benchmark(path.stem, tasks, family.answer_length(SamplingConfig().max_new_tokens), family)


def results(label: str, location: str, ctx: Any, bench_name: str, sandbox: Any, limit: int | None) -> list[dict]:
    from ..context import model_key

    if bench_name == "heldout" and ctx is None:
        raise UserError(f"--bench heldout needs run directories; {label} is a model: give --bench RUN/heldout.jsonl")
    if ctx is not None and bench_name in ("heldout", ctx.config.evaluation.transfer):  # results the run keeps
        key = model_key(location, ctx.run.store().champions()[0]["champion"])
        if bench_name == "heldout":
            return ctx.eval_results(location, key)[:limit]
        kept = ctx.run.eval_file(f"transfer-{key}")
        if kept.exists():
            return read_jsonl(kept)[:limit]
    try:
        bench = run_task_file(bench_name) or benchmark(bench_name)
    except BenchmarkError as exc:
        raise UserError(f"--bench {bench_name}: {exc}") from None
    if limit:
        bench = type(bench)(bench.name, bench.tasks[:limit], bench.max_new_tokens, bench.family)
    from ...tools.generate import Generator
    from ...tools.models import check_model

    where = ctx.resolve(location) if ctx is not None else check_model(location)
    return evaluate(Generator(where), bench, sandbox)


def cmd_eval(args: argparse.Namespace) -> int:
    found = [c for target in args.models for c in checkpoints(target)]
    rows: list[dict[str, Any]] = []
    with check_sandbox(args.sandbox) as sandbox:
        for label, location, ctx in found:
            outcome = [r["passed"] for r in results(label, location, ctx, args.bench, sandbox, args.limit)]
            row: dict[str, Any] = {"checkpoint": label, "passed": sum(outcome), "n": len(outcome)}
            row["ci"] = wilson_interval(row["passed"], row["n"])
            if rows and len(outcome) == rows[0]["n"]:
                test = compare(rows[0]["outcome"], outcome)
                row.update(gained=test["gained"], lost=test["lost"], p_value=test["p_value"])
            rows.append({**row, "outcome": outcome})
    shown = [{k: v for k, v in r.items() if k != "outcome"} for r in rows]
    if args.json:
        print(json.dumps({"bench": args.bench, "checkpoints": shown}, indent=2))
        return 0
    width = max(len(r["checkpoint"]) for r in shown)
    print(f"{'checkpoint':<{width}}  {'pass@1':>9}  {'95% CI':>9}  vs the first")
    for r in shown:
        versus = f"+{r['gained']} -{r['lost']}, p={r['p_value']:.2g}" if "p_value" in r else ""
        cell = f"{r['passed']}/{r['n']}"
        print(f"{r['checkpoint']:<{width}}  {cell:>9}  {r['ci'][0]:.0%}-{r['ci'][1]:.0%}".ljust(width + 24) + versus)
    return 0
