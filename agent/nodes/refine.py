"""refine: show the model its failed code and the sandbox's feedback, ask for a repair, verify the repair."""

from __future__ import annotations

import time
from typing import Any, cast

from ...prompts import render
from ...tools.generate import SamplingParams
from ...tools.tasks import Task
from ..context import RunContext
from ..critics import CRITICS
from ..planning.budget import unpaid_repairs
from ..progress import bar
from ..rundir import read_jsonl, write_jsonl
from ..state import RoundFiles, RunState, files_of


def refine(state: RunState, ctx: RunContext) -> dict[str, Any]:
    began = time.monotonic()
    cfg, round_no = ctx.config, state["round"]
    skipped = unpaid_repairs(state.get("history", []), cfg.sampling.max_repairs)
    current = state["current"].copy()
    files = files_of(current)
    tasks = {t["id"]: Task.from_dict(t) for t in read_jsonl(ctx.run.path / files["tasks"])}
    attempts = read_jsonl(ctx.run.path / files["attempts"])
    solved = {a["task_id"] for a in attempts if a["passed"]}
    family = ctx.family(current["plan"]["family"])
    # One failed attempt per unsolved task of the plan's family (not the breadth families), easiest tasks first
    # (the likeliest to be repaired).
    failed: dict[str, dict[str, Any]] = {}
    for a in sorted(attempts, key=lambda a: (a["difficulty"], a["task_id"], a["sample"])):
        task = tasks[a["task_id"]]
        if task.family != family.name or a["task_id"] in solved or a["task_id"] in failed:
            continue
        if family.extract(a["completion"], task):
            failed[a["task_id"]] = a
    # A family whose answers cannot be repaired from feedback (a sum is right or wrong) skips this stage.
    chosen = list(failed.values())[: cfg.sampling.max_repairs] if family.repairable and not skipped else []
    shown = [
        {
            "task_prompt": tasks[a["task_id"]].prompt,
            "code": family.extract(a["completion"], tasks[a["task_id"]]),
            "feedback": a["feedback"],
        }
        for a in chosen
    ]
    critic = CRITICS[cfg.agent.critic]
    critiques, critic_error = critic.critique(ctx, state, shown) if critic.critique and chosen else ([], None)
    critiques += [None] * (len(chosen) - len(critiques))
    prompts = [
        render("repair_critiqued", **fields, critique=c) if c else render("repair", **fields)
        for fields, c in zip(shown, critiques, strict=True)
    ]
    repairs = []
    if chosen:
        gen = ctx.generator(state["champion"])
        params = SamplingParams(
            n=1,
            temperature=cfg.sampling.temperature,
            max_new_tokens=cfg.sampling.max_new_tokens,
            seed=cfg.seed + 7 * round_no,
        )
        with bar(len(chosen), f"round {round_no} repair") as progress:
            replies = gen.complete(prompts, params, progress=progress.update)
        codes = [family.extract(reply, tasks[a["task_id"]]) for a, (reply,) in zip(chosen, replies, strict=True)]
        verdicts = ctx.verify_all([(tasks[a["task_id"]], code) for a, code in zip(chosen, codes, strict=True)])
        for a, (reply,), code, verdict, said in zip(chosen, replies, codes, verdicts, critiques, strict=True):
            task = tasks[a["task_id"]]
            original = family.extract(a["completion"], task)
            repairs.append(
                {
                    "task_id": task.id,
                    "difficulty": task.difficulty,
                    "failed_completion": a["completion"],
                    "feedback": a["feedback"],
                    "critique": said,
                    "completion": reply,
                    "passed": verdict.passed,
                    "copied": code.strip() == original.strip(),
                    "repair_feedback": verdict.feedback,
                }
            )
    write_jsonl(ctx.run.round_file(round_no, "repairs"), repairs)
    files["repairs"] = ctx.run.relative(ctx.run.round_file(round_no, "repairs"))
    current["files"] = cast(RoundFiles, files)
    current["counts"] = {
        **current["counts"],
        "repairs_tried": len(repairs),
        "repaired": sum(r["passed"] for r in repairs),
        "repair_copies": sum(1 for r in repairs if r["passed"] and r["copied"]),
        "refine_s": round(time.monotonic() - began, 1),
    }
    if skipped:
        current["counts"]["repairs_skipped"] = skipped
    if critic.critique:
        current["critic"] = {
            "kind": cfg.agent.critic,
            "critiques": sum(1 for c in critiques if c),
            "repaired_with_critique": sum(1 for r in repairs if r["critique"] and r["passed"]),
            "error": critic_error,
        }
    done = skipped or f"{current['counts']['repaired']} of {len(repairs)} repairs verified"
    ctx.log(f"round {round_no}: refine: {done}")
    return {"current": current}
