"""select: build each trainer's data from the verified attempts and repairs, and choose the trainer.

- SFT rows: verified completions (up to the end of their code block), duplicates dropped, capped per task.
- DPO pairs: a verified completion preferred over a failed attempt at the same task (a repair over the
  attempt it repaired), capped per task.
- GRPO prompts: tasks whose attempts had mixed outcomes (a group with equal rewards teaches nothing).

Anything whose task is in the held-out set is dropped. Every row names the file and line it came from, so a
checkpoint's lineage leads back to the sandbox runs that verified its data.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ...tools.codeblock import extract_code, truncate_after_code
from ...tools.tasks import Task
from ..context import RunContext
from ..planner import choose_trainer, data_diagnostics
from ..rundir import read_jsonl, write_jsonl
from ..state import RunState


def normalise_code(code: str) -> str:
    """Code with comments, blank lines and trailing spaces removed: two rows equal under this are duplicates."""
    lines = [re.sub(r"\s+#.*$|^\s*#.*$", "", ln).rstrip() for ln in code.splitlines()]
    return "\n".join(ln for ln in lines if ln.strip())


def _load(ctx: RunContext, sources: list[dict[str, str]]) -> tuple[dict[str, Task], list[dict[str, Any]]]:
    """Tasks and every attempt and repair row of the given rounds, each tagged with where it came from."""
    tasks: dict[str, Task] = {}
    items: list[dict[str, Any]] = []
    for i, round_files in enumerate(sources):
        if "repairs" not in round_files:  # a round that stopped before refine
            continue
        tasks.update((t["id"], Task.from_dict(t)) for t in read_jsonl(ctx.run.path / round_files["tasks"]))
        for kind in ("attempts", "repairs"):
            for line, row in enumerate(read_jsonl(ctx.run.path / round_files[kind]), start=1):
                items.append(dict(row, source=kind[:-1], earlier=i > 0, origin=f"{round_files[kind]}:{line}"))
    return tasks, items


def select(state: RunState, ctx: RunContext) -> dict[str, Any]:
    cfg, round_no = ctx.config, state["round"]
    current = dict(state["current"])
    files = dict(current["files"])
    # This round's verified data, and (by default) every earlier round's: a verified answer stays correct
    # whichever model wrote it, and a round that was rolled back should not waste what it sampled.
    sources = [files] + ([r["files"] for r in state.get("history", []) if r.get("files")] if cfg.accumulate else [])
    tasks, items = _load(ctx, sources)
    heldout_prompts = {t.prompt for t in ctx.heldout()}
    gen = ctx.generator(state["champion"])
    overlap = {i for i, item in enumerate(items) if tasks[item["task_id"]].prompt in heldout_prompts}
    usable = [item for i, item in enumerate(items) if i not in overlap]

    seen: set[tuple[str, str]] = set()
    chosen: dict[str, list[dict[str, Any]]] = {}
    duplicates, earlier = 0, 0
    rows = []
    # Shorter verified answers first: they are cheaper to sample later and as correct.
    for item in sorted((i for i in usable if i["passed"]), key=lambda r: (r["task_id"], len(r["completion"]))):
        task = tasks[item["task_id"]]
        completion = truncate_after_code(item["completion"]).strip()
        code = normalise_code(extract_code(completion, task.entry_point))
        if (task.id, code) in seen:
            duplicates += 1
            continue
        seen.add((task.id, code))
        chosen.setdefault(task.id, []).append(dict(item, completion=completion))
        if len(chosen[task.id]) > cfg.max_rows_per_task:
            continue
        earlier += item["earlier"]
        rows.append(
            {
                "task_id": task.id,
                "difficulty": task.difficulty,
                "source": item["source"],
                "origin": item["origin"],
                "prompt": gen.chat_prompt(task.prompt),
                "completion": completion,
            }
        )

    # DPO: a repair over the attempt it repaired; otherwise verified answers over failed attempts, in order.
    failed: dict[str, list[dict[str, Any]]] = {}
    for item in usable:
        if item["source"] == "attempt" and not item["passed"]:
            failed.setdefault(item["task_id"], []).append(item)
    pairs = []
    for task_id, good in chosen.items():
        task = tasks[task_id]
        bad = [(g, g["failed_completion"]) for g in good if g["source"] == "repair"]
        wrong = iter(failed.get(task_id, []))
        bad += [(g, w["completion"]) for g in good if g["source"] == "attempt" for w in [next(wrong, None)] if w]
        for g, rejected in bad[: cfg.max_rows_per_task]:
            pairs.append(
                {
                    "task_id": task_id,
                    "origin": g["origin"],
                    "prompt": gen.chat_prompt(task.prompt),
                    "chosen": g["completion"],
                    "rejected": truncate_after_code(rejected).strip(),
                }
            )

    # GRPO: this round's tasks with mixed outcomes (the champion's own, as it is now).
    outcomes: dict[str, list[bool]] = {}
    for item in usable:
        if item["source"] == "attempt" and not item["earlier"]:
            outcomes.setdefault(item["task_id"], []).append(bool(item["passed"]))
    mixed = [tid for tid, v in outcomes.items() if 0 < sum(v) < len(v)]
    mixed.sort(key=lambda tid: abs(sum(outcomes[tid]) / len(outcomes[tid]) - 0.5))
    prompts = [
        {"task_id": tid, "prompt": gen.chat_prompt(tasks[tid].prompt), "task": json.dumps(tasks[tid].to_dict())}
        for tid in mixed[: cfg.max_grpo_prompts]
    ]

    folder = ctx.run.round_dir(round_no)
    for name, data in (("selected", rows), ("pairs", pairs), ("prompts", prompts)):
        write_jsonl(folder / f"{name}.jsonl", data)
        files[name] = str(folder.relative_to(ctx.run.path) / f"{name}.jsonl")
    diagnostics = data_diagnostics(outcomes, len(rows), len(pairs), len(prompts))
    method, reason = choose_trainer(cfg.trainer, diagnostics, cfg)
    current["files"] = files
    current["trainer"] = {"method": method, "reason": reason, "diagnostics": diagnostics}
    current["counts"] = {
        **current["counts"],
        "selected": len(rows),
        "pairs": len(pairs),
        "grpo_prompts": len(prompts),
        "duplicates_dropped": duplicates,
        "heldout_overlap_dropped": len(overlap),
        "selected_from_earlier_rounds": earlier,
    }
    ctx.log(
        f"round {round_no}: select: {len(rows)} rows, {len(pairs)} pairs, {len(prompts)} GRPO prompts "
        f"({duplicates} duplicates, {len(overlap)} held-out overlaps dropped); trainer {method}: {reason}"
    )
    return {"current": current}
