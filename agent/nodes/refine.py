"""refine: show the model its failed code and the sandbox's feedback, ask for a repair, verify the repair."""

from __future__ import annotations

from typing import Any

from ...prompts import render
from ...tools.generate import SamplingParams
from ...tools.tasks import Task
from ..context import RunContext
from ..progress import bar
from ..rundir import read_jsonl, write_jsonl
from ..state import RunState


def refine(state: RunState, ctx: RunContext) -> dict[str, Any]:
    cfg, round_no = ctx.config, state["round"]
    current = dict(state["current"])
    files = dict(current["files"])
    tasks = {t["id"]: Task.from_dict(t) for t in read_jsonl(ctx.run.path / files["tasks"])}
    attempts = read_jsonl(ctx.run.path / files["attempts"])
    solved = {a["task_id"] for a in attempts if a["passed"]}
    family = ctx.family(current["plan"]["family"])
    # One failed attempt per unsolved task, easiest tasks first (the likeliest to be repaired).
    failed: dict[str, dict[str, Any]] = {}
    for a in sorted(attempts, key=lambda a: (a["difficulty"], a["task_id"], a["sample"])):
        task = tasks[a["task_id"]]
        if a["task_id"] not in solved and a["task_id"] not in failed and family.extract(a["completion"], task):
            failed[a["task_id"]] = a
    # A family whose answers cannot be repaired from feedback (a sum is right or wrong) skips this stage.
    chosen = list(failed.values())[: cfg.max_repairs] if family.repairable else []
    prompts = [
        render(
            "repair",
            task_prompt=tasks[a["task_id"]].prompt,
            code=family.extract(a["completion"], tasks[a["task_id"]]),
            feedback=a["feedback"],
        )
        for a in chosen
    ]
    repairs = []
    if chosen:
        gen = ctx.generator(state["champion"])
        params = SamplingParams(
            n=1, temperature=cfg.temperature, max_new_tokens=cfg.max_new_tokens, seed=cfg.seed + 7 * round_no
        )
        with bar(len(chosen), f"round {round_no} repair") as progress:
            replies = gen.complete(prompts, params, progress=progress.update)
        codes = [family.extract(reply, tasks[a["task_id"]]) for a, (reply,) in zip(chosen, replies, strict=True)]
        verdicts = ctx.verify_all([(tasks[a["task_id"]], code) for a, code in zip(chosen, codes, strict=True)])
        for a, (reply,), code, verdict in zip(chosen, replies, codes, verdicts, strict=True):
            task = tasks[a["task_id"]]
            original = family.extract(a["completion"], task)
            repairs.append(
                {
                    "task_id": task.id,
                    "difficulty": task.difficulty,
                    "failed_completion": a["completion"],
                    "feedback": a["feedback"],
                    "completion": reply,
                    "passed": verdict.passed,
                    "copied": code.strip() == original.strip(),
                    "repair_feedback": verdict.feedback,
                }
            )
    folder = ctx.run.round_dir(round_no)
    write_jsonl(folder / "repairs.jsonl", repairs)
    files["repairs"] = str(folder.relative_to(ctx.run.path) / "repairs.jsonl")
    current["files"] = files
    current["counts"] = {
        **current["counts"],
        "repairs_tried": len(repairs),
        "repaired": sum(r["passed"] for r in repairs),
        "repair_copies": sum(1 for r in repairs if r["passed"] and r["copied"]),
    }
    ctx.log(f"round {round_no}: refine: {current['counts']['repaired']} of {len(repairs)} repairs verified")
    return {"current": current}
