"""refine: show the model its failed code and the sandbox's feedback, ask for a repair, verify the repair."""

from __future__ import annotations

from typing import Any

from ...prompts import render
from ...tools.chat import ChatError
from ...tools.generate import SamplingParams
from ...tools.tasks import Task
from ..context import RunContext
from ..progress import bar
from ..rundir import read_jsonl, write_jsonl
from ..state import RunState

CRITIQUE_TOKENS = 160


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
    shown = [
        {
            "task_prompt": tasks[a["task_id"]].prompt,
            "code": family.extract(a["completion"], tasks[a["task_id"]]),
            "feedback": a["feedback"],
        }
        for a in chosen
    ]
    critiques, critic_error = critique(ctx, state, shown) if cfg.critic != "none" and chosen else ([], None)
    critiques += [None] * (len(chosen) - len(critiques))
    prompts = [
        render("repair_critiqued", **fields, critique=c) if c else render("repair", **fields)
        for fields, c in zip(shown, critiques, strict=True)
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
    if cfg.critic != "none":
        current["critic"] = {
            "kind": cfg.critic,
            "critiques": sum(1 for c in critiques if c),
            "repaired_with_critique": sum(1 for r in repairs if r["critique"] and r["passed"]),
            "error": critic_error,
        }
    ctx.log(f"round {round_no}: refine: {current['counts']['repaired']} of {len(repairs)} repairs verified")
    return {"current": current}


def critique(ctx: RunContext, state: RunState, shown: list[dict[str, str]]) -> tuple[list[str | None], str | None]:
    """A critique of each failed attempt from the critic (`--critic`), and the error that stopped it, if one did:
    after a failure (a timeout, a server that is down) the remaining attempts are repaired without critiques."""
    cfg = ctx.config
    messages = [render("critique", **fields) for fields in shown]
    if cfg.critic == "self" and cfg.backend != "openai":  # the champion in this process: one batch
        params = SamplingParams(n=1, temperature=0.0, max_new_tokens=CRITIQUE_TOKENS, stop_after_code=False)
        replies = ctx.generator(state["champion"]).complete(messages, params)
        return [r.strip() or None for (r,) in replies], None
    said: list[str | None] = []
    try:
        chat = ctx.chat_model(cfg.critic, cfg.critic_model, cfg.critic_base_url, state["champion"])
        for message in messages:
            said.append(chat.chat([{"role": "user", "content": message}]).text.strip() or None)
    except ChatError as exc:
        ctx.log(f"round {state['round']}: refine: the critic failed ({exc}); repairs go on without critiques")
        return said, f"{exc.kind}: {exc}"
    return said, None
