"""acquire: generate practice tasks, sample k attempts each from the champion, verify every attempt.

The run's label filter (`labels.py`) may label the attempts by other means than their verdicts (the majority
filter: by a vote among each task's answers); the verdicts are recorded whatever it does.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ...tools.generate import SamplingParams
from ...tools.tasks import Task, Verdict
from ..context import RunContext
from ..planning.budget import GROWTH, acquire_seconds, extra_attempts
from ..progress import bar
from ..rundir import write_jsonl
from ..state import PlanRecord, RunState
from ..stats import tally
from ..waves import Tally, first_wave, next_wave


def acquire(state: RunState, ctx: RunContext) -> dict[str, Any]:
    cfg, round_no = ctx.config, state["round"]
    current = state["current"].copy()
    plan = current["plan"]
    family = ctx.family(plan["family"])
    protected = frozenset(t.prompt for t in ctx.heldout() + ctx.guard_candidates())
    tasks: list[Task] = []
    # The plan's tasks, then those of the breadth families (`planning/breadth.py`), kept aside below.
    for name, per_level in [(plan["family"], plan["tasks_per_level"]), *plan.get("breadth", {}).items()]:
        tasks += practice_tasks(ctx, name, per_level, stream=cfg.seed * 1_000_003 + round_no * 101, exclude=protected)
    aside = {t.id for t in tasks if t.family != plan["family"]}
    k = plan["samples_per_task"]
    gen = ctx.generator(state["champion"])
    retry = current.get("retries", {}).get("acquire", 0)  # a retry draws fresh samples, not the same ones again
    labeller = ctx.label_filter
    started = time.monotonic()
    retried = len(ctx.cluster_retries())
    waves_on = labeller.waves and cfg.sampling.waves
    seed = cfg.seed + round_no + 1000 * retry
    sizing = current.get("sizing") or {}
    limit = acquire_seconds(sizing, len(tasks) * k)
    flat, verdicts, tallies, waves, cut = sample_in_waves(
        ctx, gen, tasks, k, seed=seed, waves=waves_on, label=f"round {round_no} sample", seconds=limit
    )
    added: list[Task] = []
    if limit is not None and not cut:  # a last round that acquired faster than its sizing predicted
        took = time.monotonic() - started
        rate = len(flat) / max(took, 1e-9)
        room = GROWTH * cfg.sampling.tasks_per_round - len(tasks)  # the most tasks the sizing gives a round
        more = min(extra_attempts(sizing, limit - took, rate), max(0, room) * k)
        added = fresh_tasks(ctx, plan, more // k, seed=seed, exclude=protected | {t.prompt for t in tasks})
        if added:
            more_flat, more_verdicts, more_tallies, more_waves, cut = sample_in_waves(
                ctx, gen, added, k, seed=seed + 1, waves=waves_on, label=f"round {round_no} sample, more tasks",
                seconds=more / rate,
            )  # fmt: skip
            tasks, flat, verdicts = tasks + added, flat + more_flat, verdicts + more_verdicts
            tallies, waves = {**tallies, **more_tallies}, waves + more_waves
    acquire_s = time.monotonic() - started
    resent = ctx.cluster_retries()[retried:]  # each is in run.log too
    labels = labeller.label(flat, family, cfg)  # a label filter without ground truth is for one family
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
    # The champion's rate per level from the first wave only: later waves go to the hard cases, and would bias it.
    unbiased = first_wave(k) if waves_on else k
    stats = tally(
        (row["difficulty"], row["passed"])
        for row in attempts
        if row["sample"] < unbiased and row["task_id"] not in aside
    )
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
        "planned_attempts": len(tasks) * k,
        "waves": waves,
        # A round sized as the last keeps to its sizing's acquire time, so training keeps its own: its later waves
        # stop once that time has passed (`attempts_cut`), and one that finishes early adds fresh tasks for the
        # time saved (`tasks_added`).
        **(
            {"acquire_limit_s": round(limit, 1), "attempts_cut": cut, "tasks_added": len(added)}
            if limit is not None
            else {}
        ),
        # Attempts on tasks whose attempts had mixed outcomes: the ones that teach (verified rows beside
        # failures, pairs, GRPO groups). Verified rows per minute of acquire.
        "useful_attempts": sum(t.tries for t in tallies.values() if t.mixed),
        "verified_per_min": round(sum(row["passed"] for row in attempts) / max(acquire_s, 1e-9) * 60, 2),
        "acquire_s": round(acquire_s, 1),
        # Calls sent again after a Ray actor died mid-call (`--cluster ray`): each answer and verdict is kept once.
        **({"cluster_retries": len(resent)} if ctx.config.cluster != "local" else {}),
        **(
            {
                "breadth_tasks": len(aside),
                "breadth_verified": sum(row["passed"] for row in attempts if row["task_id"] in aside),
            }
            if aside
            else {}
        ),
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


def fresh_tasks(ctx: RunContext, plan: PlanRecord, n: int, *, seed: int, exclude: frozenset[str]) -> list[Task]:
    """About `n` more practice tasks of the plan's family, shared among its levels as the plan shares its tasks
    (none when that gives a level less than one)."""
    per_level = plan["tasks_per_level"]
    total = sum(per_level.values())
    if not total or n < len(per_level):
        return []
    counts = {level: round(n * planned / total) for level, planned in per_level.items()}
    # A seed stream apart from the plan's tasks.
    return practice_tasks(ctx, plan["family"], counts, stream=seed * 1_000_003 + 7_654_321, exclude=exclude)


def practice_tasks(
    ctx: RunContext, family: str, per_level: dict[str, int], *, stream: int, exclude: frozenset[str]
) -> list[Task]:
    """The practice tasks `per_level` asks of `family`, level by level, none of whose prompts is in `exclude`; each
    level is generated from the seed `stream` + its level, so the same counts and stream give the same tasks."""
    generate = ctx.family(family).generate
    return [
        task
        for level, n in per_level.items()
        if n
        for task in generate(
            split="train", difficulty=int(level), n=n, seed=stream + int(level), exclude_prompts=exclude
        )
    ]


def sample_in_waves(
    ctx: RunContext,
    gen: Any,
    tasks: list[Task],
    k: int,
    *,
    seed: int,
    waves: bool,
    label: str,
    seconds: float | None = None,
) -> tuple[list[tuple[Task, int, str]], list[Verdict], dict[str, Tally], int, int]:
    """Up to `len(tasks) * k` attempts, verified, spent in waves (`waves.py`) or, with `waves` off, k per task
    at once: the (task, sample, reply) list, its verdicts, each task's tally, the number of waves, and the planned
    attempts still unspent when `seconds` ran out. The first wave is always sampled whole; no slice of a later wave
    is started that the seconds per attempt so far say would end past `seconds`. Checking only that the seconds had
    not yet passed, the default goal's last rounds acquired 44-75 s past their limit (seed 6: 440 s against 366),
    and training, which gets the time after acquire, lost as much. Judged by the last slice alone, a wave's short
    last slice (a part-filled batch of its longest prompts) stopped seed 6's last round after its first wave at
    130 s of 204."""
    cfg = ctx.config
    by_id = {t.id: t for t in tasks}
    tallies = {t.id: Tally((t.family, t.difficulty)) for t in tasks}
    budget = len(tasks) * k
    per_task = first_wave(k) if waves else k
    wave: dict[str, int] = {t.id: min(per_task, k) for t in tasks}
    flat: list[tuple[Task, int, str]] = []
    verdicts: list[Verdict] = []
    count = 0
    started, cut = time.monotonic(), 0
    # Verification of one slice of a wave runs in a thread while the next slice decodes. A slice is several
    # batches per decoding thread: the threads idle at the end of each slice, as the last batches finish.
    slice_size = 4 * getattr(gen, "batch_size", 0) * getattr(gen, "workers", 1) or budget
    with bar(budget, label) as progress, ThreadPoolExecutor(1) as checker:
        while wave:
            # Similar prompt lengths decode together (the generator pads each batch to its longest prompt).
            chosen = sorted((by_id[tid] for tid, m in wave.items() for _ in range(m)), key=lambda t: len(t.prompt))
            batch: list[tuple[Task, int, str]] = []
            pending: list[Future[list[Verdict]]] = []
            for part, start in enumerate(range(0, len(chosen), slice_size)):
                piece = chosen[start : start + slice_size]
                elapsed = time.monotonic() - started
                ends = elapsed + elapsed / max(1, len(flat) + len(batch)) * len(piece)
                if count and seconds is not None and ends > seconds:
                    cut = budget - len(batch)  # what this wave and the later ones would have spent
                    break
                longest = max(ctx.family(t.family).answer_length(cfg.sampling.max_new_tokens) for t in piece)
                params = SamplingParams(
                    n=1,
                    temperature=cfg.sampling.temperature,
                    max_new_tokens=longest,
                    seed=seed + 7919 * count + 31 * part,
                )
                replies = gen.complete([t.prompt for t in piece], params, progress=progress.update)
                done = []
                for task, (reply,) in zip(piece, replies, strict=True):
                    done.append((task, tallies[task.id].tries, reply))
                    tallies[task.id].tries += 1
                batch += done
                extracted = [(t, ctx.family(t.family).extract(r, t)) for t, _, r in done]
                pending.append(checker.submit(ctx.verify_all, extracted))
            found = [verdict for future in pending for verdict in future.result()]
            for (task, _, _), verdict in zip(batch, found, strict=True):
                tallies[task.id].passes += verdict.passed
            flat += batch
            verdicts += found
            count += bool(batch)
            budget -= len(batch)
            if not waves or cut:
                break
            wave = next_wave(tallies, budget, per_task=per_task, enough=cfg.selection.max_rows_per_task, cap=2 * k)
    position = {t.id: i for i, t in enumerate(tasks)}
    order = sorted(range(len(flat)), key=lambda i: (position[flat[i][0].id], flat[i][1]))
    return [flat[i] for i in order], [verdicts[i] for i in order], tallies, count, cut
