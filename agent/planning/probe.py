"""The champion measured per difficulty level on fresh practice tasks: what the frontier curriculum and the
planner's `probe_levels` tool decide from (never the held-out tasks: those only judge candidates)."""

from __future__ import annotations

from ...tools.generate import SamplingParams
from ...tools.tasks import TaskFamily
from ..context import RunContext
from ..stats import tally


def measure_levels(
    ctx: RunContext, family: TaskFamily, levels: tuple[int, ...], champion: str, round_no: int, per_level: int
) -> dict[str, list[int]]:
    """[passed, tried] of the champion, greedy, on `per_level` fresh practice tasks at each level (never the
    held-out tasks: those only judge candidates)."""
    cfg = ctx.config
    protected = frozenset(t.prompt for t in ctx.heldout() + ctx.guard_candidates())
    seed = cfg.seed * 1_000_003 + round_no * 101 + 50_000
    tasks = [
        t
        for level in levels
        for t in family.generate(
            split="train",
            difficulty=level,
            n=per_level,
            seed=seed + level,
            exclude_prompts=protected,
        )
    ]
    greedy = SamplingParams(n=1, temperature=0.0, max_new_tokens=family.answer_length(cfg.sampling.max_new_tokens))
    replies = ctx.generator(champion).complete([t.prompt for t in tasks], greedy)
    verdicts = ctx.verify_all([(t, family.extract(r, t)) for t, (r,) in zip(tasks, replies, strict=True)])
    return tally((t.difficulty, v.passed) for t, v in zip(tasks, verdicts, strict=True))
