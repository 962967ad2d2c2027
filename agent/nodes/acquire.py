"""acquire: generate practice tasks, sample k attempts each from the champion, verify every attempt.

The run's label filter (`labels.py`) may label the attempts by other means than their verdicts (the majority
filter: by a vote among each task's answers); the verdicts are recorded whatever it does.
"""

from __future__ import annotations

from typing import Any

from ...tools.generate import SamplingParams
from ...tools.tasks import Task
from ..context import RunContext
from ..progress import bar
from ..rundir import write_jsonl
from ..state import RunState
from ..stats import tally


def acquire(state: RunState, ctx: RunContext) -> dict[str, Any]:
    cfg, round_no = ctx.config, state["round"]
    current = state["current"].copy()
    plan = current["plan"]
    family = ctx.family(plan["family"])
    protected = frozenset(t.prompt for t in ctx.heldout() + ctx.guard_candidates())
    tasks: list[Task] = []
    for level, n in plan["tasks_per_level"].items():
        seed = cfg.seed * 1_000_003 + round_no * 101 + int(level)
        tasks += family.generate(split="train", difficulty=int(level), n=n, seed=seed, exclude_prompts=protected)
    k = plan["samples_per_task"]
    gen = ctx.generator(state["champion"])
    retry = current.get("retries", {}).get("acquire", 0)  # a retry draws fresh samples, not the same ones again
    params = SamplingParams(
        n=k,
        temperature=cfg.sampling.temperature,
        max_new_tokens=family.max_new_tokens or cfg.sampling.max_new_tokens,
        seed=cfg.seed + round_no + 1000 * retry,
    )
    with bar(len(tasks) * k, f"round {round_no} sample") as progress:
        replies = gen.complete([t.prompt for t in tasks], params, progress=progress.update)
    flat = [(task, i, reply) for task, samples in zip(tasks, replies, strict=True) for i, reply in enumerate(samples)]
    with bar(len(flat), f"round {round_no} verify") as progress:
        verdicts = ctx.verify_all([(t, family.extract(reply, t)) for t, _, reply in flat], progress.update)
    labeller = ctx.label_filter
    labels = labeller.label(flat, family, cfg)
    attempts = [
        {
            "task_id": task.id,
            "sample": i,
            "difficulty": task.difficulty,
            "completion": reply,
            "passed": verdict.passed,
            "feedback": verdict.feedback,
            "stopped": verdict.stopped,
            **({"label": labels.get(task.id) == family.extract(reply, task)} if labels is not None else {}),
        }
        for (task, i, reply), verdict in zip(flat, verdicts, strict=True)
    ]
    write_jsonl(ctx.run.round_file(round_no, "tasks"), (t.to_dict() for t in tasks))
    write_jsonl(ctx.run.round_file(round_no, "attempts"), attempts)
    stats = tally((row["difficulty"], row["passed"]) for row in attempts)
    solved = {row["task_id"] for row in attempts if row["passed"]}
    current["counts"] = {
        "tasks": len(tasks),
        "attempts": len(attempts),
        "verified": sum(row["passed"] for row in attempts),
        "tasks_solved": len(solved),
        # Runs the sandbox itself failed (not the attempt's own timeouts or limits).
        "sandbox_errors": sum(1 for row in attempts if row["stopped"] == "sandbox_error"),
        "stopped_by_limits": sum(1 for row in attempts if row["stopped"] and row["stopped"] != "sandbox_error"),
        **labeller.counts(attempts, labels),
    }
    current["files"] = {
        "tasks": ctx.run.relative(ctx.run.round_file(round_no, "tasks")),
        "attempts": ctx.run.relative(ctx.run.round_file(round_no, "attempts")),
    }
    current["level_stats"] = stats
    ctx.log(
        f"round {round_no}: acquire: {current['counts']['verified']} of {len(attempts)} attempts verified, "
        f"{len(solved)} of {len(tasks)} tasks solved"
    )
    return {"current": current, "level_stats": stats}
