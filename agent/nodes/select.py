"""select: keep verified attempts and repairs, drop duplicates and anything overlapping the held-out set,
cap rows per task, and write SFT rows (chat prompt, completion up to the end of its code block)."""

from __future__ import annotations

import re
from typing import Any

from ...tools.codeblock import extract_code, truncate_after_code
from ...tools.tasks import Task
from ..context import RunContext
from ..rundir import read_jsonl, write_jsonl
from ..state import RunState


def normalise_code(code: str) -> str:
    """Code with comments, blank lines and trailing spaces removed: two rows equal under this are duplicates."""
    lines = [re.sub(r"\s+#.*$|^\s*#.*$", "", ln).rstrip() for ln in code.splitlines()]
    return "\n".join(ln for ln in lines if ln.strip())


def select(state: RunState, ctx: RunContext) -> dict[str, Any]:
    cfg, round_no = ctx.config, state["round"]
    current = dict(state["current"])
    files = dict(current["files"])
    # This round's verified data, and (by default) every earlier round's: a verified answer stays correct
    # whichever model wrote it, and a round that was rolled back should not waste what it sampled.
    sources = [files] + ([r["files"] for r in state.get("history", []) if r.get("files")] if cfg.accumulate else [])
    tasks: dict[str, Task] = {}
    verified: list[dict[str, Any]] = []
    for i, round_files in enumerate(sources):
        if "repairs" not in round_files:  # a round that stopped before refine
            continue
        tasks.update((t["id"], Task.from_dict(t)) for t in read_jsonl(ctx.run.path / round_files["tasks"]))
        for kind in ("attempts", "repairs"):
            verified += [
                dict(row, source=kind[:-1], earlier=i > 0)
                for row in read_jsonl(ctx.run.path / round_files[kind])
                if row["passed"]
            ]
    heldout_prompts = {t.prompt for t in ctx.heldout()}
    gen = ctx.generator(state["champion"])
    seen: set[tuple[str, str]] = set()
    per_task: dict[str, int] = {}
    rows, duplicates, overlap, earlier = [], 0, 0, 0
    # Shorter verified answers first: they are cheaper to sample later and as correct.
    for item in sorted(verified, key=lambda r: (r["task_id"], len(r["completion"]))):
        task = tasks[item["task_id"]]
        completion = truncate_after_code(item["completion"]).strip()
        code = normalise_code(extract_code(completion, task.entry_point))
        if (task.id, code) in seen:
            duplicates += 1
            continue
        if task.prompt in heldout_prompts:
            overlap += 1
            continue
        seen.add((task.id, code))
        if per_task.get(task.id, 0) >= cfg.max_rows_per_task:
            continue
        per_task[task.id] = per_task.get(task.id, 0) + 1
        earlier += item["earlier"]
        rows.append(
            {
                "task_id": task.id,
                "difficulty": task.difficulty,
                "source": item["source"],
                "prompt": gen.chat_prompt(task.prompt),
                "completion": completion,
            }
        )
    folder = ctx.run.round_dir(round_no)
    write_jsonl(folder / "selected.jsonl", rows)
    files["selected"] = str(folder.relative_to(ctx.run.path) / "selected.jsonl")
    current["files"] = files
    current["counts"] = {
        **current["counts"],
        "selected": len(rows),
        "duplicates_dropped": duplicates,
        "heldout_overlap_dropped": overlap,
        "selected_from_earlier_rounds": earlier,
    }
    ctx.log(
        f"round {round_no}: select: {len(rows)} rows ({duplicates} duplicates, {overlap} held-out overlaps dropped)"
    )
    return {"current": current}
