"""Answers per second in acquire, before and after: one 2-thread generator that decodes a round's attempts and then
verifies them, against two decoding threads (1 torch thread each) with verification overlapped, on the same
practice tasks and seeds, in one process.

    python bench/acquire.py [--tasks 96] [--seed 0] [--goal "get better at writing small Python functions"]

Each setup runs twice in turn (A B A B) so a drift of the machine falls on both. Prints, per setup, seconds,
answers/s, generated tokens/s, verified answers, and the ratio of the best of each.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from autodidact.agent.cli import quiet_libraries
from autodidact.agent.nodes.acquire import sample_in_waves
from autodidact.agent.run import configure, create_run
from autodidact.tools.generate import Generator, SamplingParams


def sequential(ctx: Any, gen: Generator, family: Any, tasks: list[Any], seed: int) -> tuple[float, int]:
    """Decode every attempt, then verify them all: acquire as it was."""
    started = time.perf_counter()
    params = SamplingParams(
        temperature=ctx.config.sampling.temperature, max_new_tokens=family.answer_length(256), seed=seed
    )
    replies = gen.complete([t.prompt for t in tasks], params)
    verdicts = ctx.verify_all([(t, family.extract(r, t)) for t, (r,) in zip(tasks, replies, strict=True)])
    return time.perf_counter() - started, sum(v.passed for v in verdicts)


def overlapped(ctx: Any, gen: Generator, family: Any, tasks: list[Any], seed: int) -> tuple[float, int]:
    """acquire's own sampling (one wave of one attempt per task): verification overlaps decoding."""
    started = time.perf_counter()
    _, verdicts, *_ = sample_in_waves(ctx, gen, tasks, 1, seed=seed, waves=False, label="bench")
    return time.perf_counter() - started, sum(v.passed for v in verdicts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=96)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--goal", default="get better at writing small Python functions")
    args = parser.parse_args()
    quiet_libraries()
    with tempfile.TemporaryDirectory() as tmp:
        config = configure(args.goal, {"transfer": "none", "seed": args.seed})
        ctx, initial = create_run(Path(tmp) / "run", config, quiet=True)
        family = ctx.family(config.tasks.families[0])
        levels = family.levels
        tasks = []
        for level in levels:
            tasks += family.generate(
                split="train", difficulty=level, n=args.tasks // len(levels), seed=args.seed + level
            )
        location = ctx.resolve(initial["champion"])
        setups = {
            "before: 1 worker x 2 threads, verify after": (Generator(location, workers=1), sequential),
            "after: 2 workers x 1 thread, verify overlapped": (Generator(location, workers=2), overlapped),
        }
        best: dict[str, float] = {}
        for repeat in range(2):
            for name, (gen, how) in setups.items():
                tokens = gen.generated_tokens
                seconds, passed = how(ctx, gen, family, tasks, args.seed + repeat)
                rate = len(tasks) / seconds
                best[name] = max(best.get(name, 0.0), rate)
                print(f"{name:<48} run {repeat + 1}: {seconds:6.1f} s  {rate:5.2f} answers/s  "
                      f"{(gen.generated_tokens - tokens) / seconds:6.1f} tokens/s  {passed:3d} verified")  # fmt: skip
        ctx.close()
    before, after = best.values()
    print(f"answers/s, best of each: before {before:.2f}, after {after:.2f}, x{after / before:.2f}")


if __name__ == "__main__":
    main()
