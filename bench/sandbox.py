"""Sandbox throughput: the same small programs through a plain-subprocess baseline and each available backend.

    python bench/sandbox.py [--programs 2000] [--concurrency N] [--backends local,docker,docker-reuse,e2b]

Half the programs pass their asserts and half fail; every backend must report each one correctly (a wrong
verdict is counted and printed). Printed per backend: executions per second, the ratio to the baseline measured
in this same run, p50/p99 latency, peak memory, and the isolation the runs had.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from autodidact.sandbox import BACKENDS, DockerSandbox, Limits, LocalSandbox, Sandbox, available_backends


def programs(n: int) -> list[tuple[str, bool]]:
    out = []
    for i in range(n):
        passing = i % 2 == 0
        want = i * 3 if passing else i * 3 + 1
        code = f"def triple(x):\n    return x * 3\n\nassert triple({i}) == {want}, 'wrong'\nprint('ok')\n"
        out.append((code, passing))
    return out


def baseline(code: str) -> int:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30).returncode


def measure(name: str, run: Callable[[str], int], progs: list[tuple[str, bool]], workers: int) -> dict:
    latencies: list[float] = []
    wrong = 0

    def one(item: tuple[str, bool]) -> None:
        nonlocal wrong
        code, passing = item
        t0 = time.perf_counter()
        status = run(code)
        latencies.append(time.perf_counter() - t0)
        wrong += (status == 0) != passing

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, progs))
    wall = time.perf_counter() - start
    q = statistics.quantiles(latencies, n=100)
    return {"name": name, "per_s": len(progs) / wall, "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000, "wrong": wrong}


def peak_rss_mb() -> tuple[float, float]:
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return self_kb / 1024, child_kb / 1024


def bench_backend(name: str, progs: list[tuple[str, bool]], concurrency: int) -> dict:
    limits = Limits(cpu_s=5, wall_s=20)
    if name == "local":
        sandbox: Sandbox = LocalSandbox(workers=concurrency)
    elif name == "docker-reuse":
        sandbox = DockerSandbox(reuse=True)
    else:
        sandbox = BACKENDS[name]()
    with sandbox:
        isolation = sandbox.run("pass", limits=limits).isolation
        row = measure(name, lambda code: sandbox.run(code, limits=limits).exit_code or 0, progs, concurrency)
        row["isolation"] = ",".join(isolation)
        row["peak"] = f"harness {peak_rss_mb()[0]:.0f} MiB"
        if isinstance(sandbox, LocalSandbox):
            row["peak"] += ", workers " + "+".join(f"{w.rss_mb():.0f}" for w in sandbox.workers()) + " MiB"
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--programs", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=2 * (os.cpu_count() or 1), help="default: the local pool size")
    found = available_backends()
    ap.add_argument("--backends", default=",".join(found + (["docker-reuse"] if "docker" in found else [])))
    args = ap.parse_args()
    progs = programs(args.programs)
    rows = [measure("subprocess baseline", baseline, progs, args.concurrency)]
    rows[0]["isolation"] = "none"
    rows[0]["peak"] = f"largest child {peak_rss_mb()[1]:.0f} MiB"
    for name in [b for b in args.backends.split(",") if b]:
        rows.append(bench_backend(name, progs, args.concurrency))
    base = rows[0]["per_s"]
    print(f"{len(progs)} programs (half failing), concurrency {args.concurrency}, {os.cpu_count()} CPUs")
    print(
        f"{'backend':22} {'exec/s':>8} {'x base':>7} {'p50 ms':>8} {'p99 ms':>8} {'wrong':>5}  peak memory; isolation"
    )
    for r in rows:
        print(f"{r['name']:22} {r['per_s']:8.1f} {r['per_s'] / base:7.2f} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f} "
              f"{r['wrong']:5d}  {r['peak']}; {r['isolation']}")  # fmt: skip


if __name__ == "__main__":
    main()
