"""The loop stop (`tools/loops.py`) on a benchmark: the same model answers every task greedily with the stop and
without it, in one process, and both are verified in the sandbox.

    python bench/loops.py [--model DIR] [--bench humaneval|FILE] [--limit N] [--threads 2]

Prints, for each: wall seconds, tokens written, answers stopped at the token limit, pass@1; then the wall-time
ratio and how many answers differ in their verdict (none should: only answers that repeat themselves are cut).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from autodidact.sandbox import get_sandbox
from autodidact.tools.benchmarks import benchmark, evaluate
from autodidact.tools.generate import Generator
from autodidact.tools.models import resolve_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="a checkpoint directory (default: the default model)")
    parser.add_argument("--bench", default="humaneval")
    parser.add_argument("--limit", type=int, default=0, help="the first N tasks only (0: all)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    bench = benchmark(args.bench)
    if args.limit:
        bench = replace(bench, tasks=bench.tasks[: args.limit])
    gen = Generator(resolve_model(args.model))
    tok, sandbox = gen.tokenizer, get_sandbox("local")
    outcomes = {}
    for stop in (False, True):
        start = time.perf_counter()
        rows = evaluate(gen, bench, sandbox, stop_on_loop=stop)
        seconds = time.perf_counter() - start
        lengths = [len(tok(r["completion"], add_special_tokens=False).input_ids) for r in rows]
        capped = sum(n >= bench.max_new_tokens - 1 for n in lengths)
        outcomes[stop] = (seconds, [r["passed"] for r in rows])
        print(
            f"loop stop {'on ' if stop else 'off'}: {seconds:7.1f} s  {sum(lengths):6d} tokens  "
            f"{capped:3d} at the {bench.max_new_tokens}-token limit  pass@1 {sum(outcomes[stop][1])}/{len(rows)}"
        )
    (off_s, off), (on_s, on) = outcomes[False], outcomes[True]
    differ = sum(a != b for a, b in zip(off, on, strict=True))
    print(f"wall-time ratio (off / on): {off_s / on_s:.2f}x; verdicts that differ: {differ}")


if __name__ == "__main__":
    main()
