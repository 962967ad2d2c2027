"""acquire: generate practice tasks, sample k attempts each from the champion, verify every attempt.

With the majority label filter, each task's answers are also put to a vote: when one answer leads the
runner-up by `majority_margin` votes, the attempts that gave it are labelled as training data without looking
at the verdicts. The verdicts are still recorded, so the trace can say how often the majority was right.
"""

from __future__ import annotations

from collections import Counter
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
    current = dict(state["current"])
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
        temperature=cfg.temperature,
        max_new_tokens=family.max_new_tokens or cfg.max_new_tokens,
        seed=cfg.seed + round_no + 1000 * retry,
    )
    with bar(len(tasks) * k, f"round {round_no} sample") as progress:
        replies = gen.complete([t.prompt for t in tasks], params, progress=progress.update)
    flat = [(task, i, reply) for task, samples in zip(tasks, replies, strict=True) for i, reply in enumerate(samples)]
    with bar(len(flat), f"round {round_no} verify") as progress:
        verdicts = ctx.verify_all([(t, family.extract(reply, t)) for t, _, reply in flat], progress.update)
    majority = cfg.label_filter == "majority"
    labels = majority_labels(flat, family, cfg.majority_margin) if majority else {}
    attempts = [
        {
            "task_id": task.id,
            "sample": i,
            "difficulty": task.difficulty,
            "completion": reply,
            "passed": verdict.passed,
            "feedback": verdict.feedback,
            "stopped": verdict.stopped,
            **({"label": labels.get(task.id) == family.extract(reply, task)} if majority else {}),
        }
        for (task, i, reply), verdict in zip(flat, verdicts, strict=True)
    ]
    folder = ctx.run.round_dir(round_no)
    write_jsonl(folder / "tasks.jsonl", (t.to_dict() for t in tasks))
    write_jsonl(folder / "attempts.jsonl", attempts)
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
    }
    if majority:
        labelled = [row for row in attempts if row.get("label")]
        right = {row["task_id"] for row in labelled if row["passed"]}
        by_level: dict[str, list[set[str]]] = {}
        for row in labelled:
            sets = by_level.setdefault(str(row["difficulty"]), [set(), set()])
            sets[0].add(row["task_id"])
            if row["passed"]:
                sets[1].add(row["task_id"])
        current["counts"].update(
            labelled=len(labelled),
            tasks_labelled=len(labels),
            # The share of majority labels the sandbox confirms: reported, never used to choose data.
            label_precision=round(len(right) / len(labels), 4) if labels else None,
            label_precision_by_level={
                k: round(len(v[1]) / len(v[0]), 4) for k, v in sorted(by_level.items(), key=lambda kv: int(kv[0]))
            },
        )
    current["files"] = {
        "tasks": str(folder.relative_to(ctx.run.path) / "tasks.jsonl"),
        "attempts": str(folder.relative_to(ctx.run.path) / "attempts.jsonl"),
    }
    current["level_stats"] = stats
    ctx.log(
        f"round {round_no}: acquire: {current['counts']['verified']} of {len(attempts)} attempts verified, "
        f"{len(solved)} of {len(tasks)} tasks solved"
    )
    return {"current": current, "level_stats": stats}


def majority_labels(flat: list[tuple[Task, int, str]], family: Any, margin: int) -> dict[str, str]:
    """Per task, the answer its samples agree on when it leads the runner-up by at least `margin` votes."""
    votes: dict[str, Counter[str]] = {}
    for task, _, reply in flat:
        answer = family.extract(reply, task)
        if answer:
            votes.setdefault(task.id, Counter())[answer] += 1
    labels = {}
    for task_id, counter in votes.items():
        (top, top_votes), *rest = counter.most_common(2)
        if top_votes - (rest[0][1] if rest else 0) >= margin:
            labels[task_id] = top
    return labels
