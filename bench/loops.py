"""The loop stop (`tools/loops.py`): the same model answers the same tasks with the stop and without it, in one
process, and every answer is verified in the sandbox.

    python bench/loops.py [--model DIR] [--bench humaneval|FILE] [--limit N] [--threads 2]
    python bench/loops.py --model DIR --practice 64 --levels 2,3,4 [--samples 4 --temperature 0.8]

The first form answers a benchmark greedily (as the run's transfer evaluation does); the second samples
`--samples` answers to each of `--practice` python-functions practice tasks at the given levels (as acquire
does). Prints, for each setting: wall seconds, tokens written, answers stopped at the token limit, answers that
passed; then the wall-time ratio. Greedy answers that differ in their verdict are counted (none should: only
answers that repeat themselves are cut); sampled answers differ anyway once a row leaves its batch earlier.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from autodidact.sandbox import get_sandbox
from autodidact.tools.benchmarks import Benchmark, benchmark, evaluate
from autodidact.tools.generate import Generator, SamplingParams
from autodidact.tools.models import resolve_model
from autodidact.tools.tasks import get_family

PRACTICE_TOKENS = 256
"""The completion length of practice answers (`sampling.max_new_tokens`)."""


def practice(gen: Generator, args: argparse.Namespace, sandbox: object, stop: bool) -> tuple[list[str], list[bool]]:
    family = get_family("python-functions")
    levels = [int(level) for level in args.levels.split(",")]
    tasks = [
        t
        for level in levels
        for t in family.generate(split="train", difficulty=level, n=args.practice // len(levels), seed=0)
    ]
    params = SamplingParams(
        n=args.samples, temperature=args.temperature, max_new_tokens=PRACTICE_TOKENS, stop_on_loop=stop, seed=0
    )
    replies = gen.complete([t.prompt for t in tasks], params)
    pairs = [(t, family.extract(reply, t)) for t, answers in zip(tasks, replies, strict=True) for reply in answers]
    verdicts = family.verify_many(pairs, sandbox)  # type: ignore[arg-type]
    return [reply for answers in replies for reply in answers], [v.passed for v in verdicts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="a checkpoint directory (default: the default model)")
    parser.add_argument("--bench", default="humaneval")
    parser.add_argument("--limit", type=int, default=0, help="the first N tasks only (0: all)")
    parser.add_argument("--practice", type=int, default=0, help="sample practice tasks instead of a benchmark")
    parser.add_argument("--levels", default="2,3,4")
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gen = Generator(resolve_model(args.model))
    tok, sandbox = gen.tokenizer, get_sandbox("local")
    bench: Benchmark | None = None
    if not args.practice:
        bench = benchmark(args.bench)
        if args.limit:
            bench = replace(bench, tasks=bench.tasks[: args.limit])
    limit = bench.max_new_tokens if bench else PRACTICE_TOKENS
    outcomes = {}
    for stop in (False, True):
        start = time.perf_counter()
        if bench is not None:
            rows = evaluate(gen, bench, sandbox, stop_on_loop=stop)
            replies, passed = [r["completion"] for r in rows], [r["passed"] for r in rows]
        else:
            replies, passed = practice(gen, args, sandbox, stop)
        seconds = time.perf_counter() - start
        lengths = [len(tok(reply, add_special_tokens=False).input_ids) for reply in replies]
        capped = sum(n >= limit - 1 for n in lengths)
        outcomes[stop] = (seconds, passed)
        print(
            f"loop stop {'on ' if stop else 'off'}: {seconds:7.1f} s  {sum(lengths):6d} tokens  "
            f"{capped:3d} of {len(replies)} at the {limit}-token limit  passed {sum(passed)}/{len(passed)}"
        )
    (off_s, off), (on_s, on) = outcomes[False], outcomes[True]
    differ = sum(a != b for a, b in zip(off, on, strict=True))
    print(f"wall-time ratio (off / on): {off_s / on_s:.2f}x; verdicts that differ: {differ}")


if __name__ == "__main__":
    main()
