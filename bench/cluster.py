"""Sampling and verification on a Ray cluster (`--cluster ray`) against this process (`--cluster local`), on the
same prompts and the same (task, code) pairs, in one script.

    python bench/cluster.py [--model SmolLM2-135M-Instruct] [--prompts 64] [--max-new-tokens 192] [--pairs 4096]
                            [--address HOST:PORT]

Without `--address` it starts real Ray clusters on this machine (`ray.cluster_utils.Cluster`: raylets of their own,
stopped afterwards): one node with all of this machine's CPUs (the overhead of Ray against the local path: the
same cores, one rollout actor and one sandbox actor), one node with 1 CPU (one worker's rate), and one node per CPU
(1 CPU each: N workers sharing this machine). With `--address` it measures that cluster as it is.

Prints per configuration: actors, start (the rollout actors loading the model), answers/s, verifications/s, each
against the local path, and whether the answers are the local ones (the same seed gives the same answers). Then
Ray's overhead per call (a call that does nothing), and a projection for N nodes like the first configuration's
node: N times one node's rates, up to what this driver can dispatch (calls/s times answers or pairs per call).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from typing import Any

from autodidact.agent.config import RunConfig
from autodidact.sandbox import get_sandbox
from autodidact.tools.cluster import VERIFY_SLICE, Cluster, ClusterGenerator
from autodidact.tools.generate import Generator, SamplingParams
from autodidact.tools.models import resolve_model
from autodidact.tools.tasks import get_family, verify_each


def pairs_to_verify(n: int) -> list[tuple[Any, str]]:
    """`n` (task, code) pairs, half the reference solutions and half wrong ones."""
    tasks = get_family("python-functions").heldout(n=max(1, n // 2), seed=1)
    pairs = [(t, t.reference) for t in tasks] + [(t, f"def {t.entry_point}(*args):\n    return None\n") for t in tasks]
    return (pairs * (n // len(pairs) + 1))[:n]


def timed(fn: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def measure_cluster(
    label: str, address: str, config: RunConfig, location: str, prompts: list[str], params: SamplingParams, pairs: list
) -> dict[str, Any]:
    cluster = Cluster(address, sandbox="local", plugins=[])
    try:
        gen, start_s = timed(lambda: ClusterGenerator(cluster, location, config))
        _, warm_s = timed(lambda: gen.complete(prompts[:2], SamplingParams(n=1, max_new_tokens=8)))
        answers, sample_s = timed(lambda: gen.complete(prompts, params))
        cluster.verify(pairs[:VERIFY_SLICE])  # start the sandbox actors
        verdicts, verify_s = timed(lambda: cluster.verify(pairs))
        noop = [()] * 400
        _, noop_s = timed(lambda: gen.shards.run("pid", noop, lambda i, r: None))
        actors = len(gen.shards.actors)
        gen.release()
    finally:
        cluster.close()
    return {
        "label": label,
        "actors": actors,
        "start_s": start_s + warm_s,
        "sample_s": sample_s,
        "verify_s": verify_s,
        "answers": answers,
        "verdicts": [v.passed for v in verdicts],
        "calls_per_s": len(noop) / noop_s,
    }


def local_cluster(cpus: list[int]) -> tuple[Any, str]:
    """A Ray cluster of one node per entry of `cpus` (that many CPUs each) on this machine, and its temporary
    directory."""
    from ray.cluster_utils import Cluster as RayCluster

    temp = tempfile.mkdtemp(prefix="ray-bench-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    # `RayCluster` writes the head's address to $RAY_TMPDIR/ray (/tmp/ray without it) and does not create that
    # directory, missing on a machine that never ran Ray: keep it inside `temp` (this script's process only).
    os.makedirs(os.path.join(temp, "ray"))
    os.environ["RAY_TMPDIR"] = temp
    cluster = RayCluster(
        initialize_head=True, head_node_args={"num_cpus": cpus[0], "include_dashboard": False, "temp_dir": temp}
    )
    for n in cpus[1:]:
        cluster.add_node(num_cpus=n)
    return cluster, temp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--max-new-tokens", type=int, default=192)
    parser.add_argument("--pairs", type=int, default=4096, help="(task, code) pairs to verify")
    parser.add_argument("--address", default=None, help="measure this Ray cluster instead of starting ones here")
    args = parser.parse_args()
    location = resolve_model(args.model)
    config = RunConfig()
    config.inference.backend = "transformers"
    prompts = [t.prompt for t in get_family("python-functions").heldout(n=args.prompts, seed=0)]
    params = SamplingParams(n=1, temperature=args.temperature, max_new_tokens=args.max_new_tokens, seed=0)
    pairs = pairs_to_verify(args.pairs)
    cpus = len(os.sched_getaffinity(0))
    print(f"model {location}: {len(prompts)} prompts, temperature {args.temperature}, up to {args.max_new_tokens} "
          f"new tokens; {len(pairs)} (task, code) pairs; this machine: {cpus} CPUs", flush=True)  # fmt: skip

    ours, start_s = timed(
        lambda: Generator(location, batch_size=config.sampling.batch_size, workers=config.sampling.decode_workers)
    )
    local_answers, sample_s = timed(lambda: ours.complete(prompts, params))
    with get_sandbox("local") as sandbox:
        verify_each(pairs[:VERIFY_SLICE], sandbox)
        local_verdicts, verify_s = timed(lambda: verify_each(pairs, sandbox))
    local = {"label": "local (this process)", "actors": 0, "start_s": start_s, "sample_s": sample_s,
             "verify_s": verify_s, "answers": local_answers, "verdicts": [v.passed for v in local_verdicts]}  # fmt: skip
    print(f"local: sampled in {sample_s:.1f} s, verified in {verify_s:.1f} s", flush=True)

    shapes: list[tuple[str, list[int] | None]]
    if args.address:
        shapes = [(f"the cluster at {args.address}", None)]
    else:
        shapes = [(f"1 node x {cpus} CPUs", [cpus]), ("1 node x 1 CPU", [1]), (f"{cpus} nodes x 1 CPU", [1] * cpus)]
    results = [local]
    for label, shape in shapes:
        ray_cluster, temp = local_cluster(shape) if shape is not None else (None, "")
        try:
            address = ray_cluster.address if ray_cluster is not None else args.address
            results.append(measure_cluster(label, address, config, location, prompts, params, pairs))
        finally:
            if ray_cluster is not None:
                ray_cluster.shutdown()
                shutil.rmtree(temp, ignore_errors=True)
        print(f"{label}: sampled in {results[-1]['sample_s']:.1f} s, verified in {results[-1]['verify_s']:.1f} s",
              flush=True)  # fmt: skip

    n_answers = len(prompts)
    print()
    print(f"{'where':<24} {'actors':>6} {'start s':>8} {'answers/s':>10} {'vs local':>9} {'verif./s':>9} "
          f"{'vs local':>9}  same answers, verdicts")  # fmt: skip
    for r in results:
        same_answers = sum(a == b for a, b in zip(r["answers"], local["answers"], strict=True))
        same_verdicts = sum(a == b for a, b in zip(r["verdicts"], local["verdicts"], strict=True))
        print(f"{r['label']:<24} {r['actors']:>6} {r['start_s']:>8.1f} {n_answers / r['sample_s']:>10.2f} "
              f"{local['sample_s'] / r['sample_s']:>9.2f} {len(pairs) / r['verify_s']:>9.1f} "
              f"{local['verify_s'] / r['verify_s']:>9.2f}  {same_answers}/{n_answers}, "
              f"{same_verdicts}/{len(pairs)}")  # fmt: skip
    one = results[1]
    print()
    print(f"Ray against the local path on the same cores ({one['label']}): sampling "
          f"{one['sample_s'] / local['sample_s'] - 1:+.1%} time, verification {one['verify_s'] / local['verify_s'] - 1:+.1%}; "
          f"a call that does nothing: {1000 / one['calls_per_s']:.2f} ms ({one['calls_per_s']:.0f} calls/s "
          "from this driver)")  # fmt: skip
    answers_per_s, verifs_per_s = n_answers / one["sample_s"], len(pairs) / one["verify_s"]
    batch = config.sampling.batch_size
    print()
    print(f"projection: N nodes like '{one['label']}' (N x its rates, up to the driver's {one['calls_per_s']:.0f} "
          f"calls/s x {batch} answers or {VERIFY_SLICE} pairs per call)")  # fmt: skip
    print(f"{'nodes':>6} {'answers/s':>10} {'verif./s':>10}")
    for n in (1, 2, 4, 8, 16, 64):
        a = min(n * answers_per_s, one["calls_per_s"] * batch)
        v = min(n * verifs_per_s, one["calls_per_s"] * VERIFY_SLICE)
        print(f"{n:>6} {a:>10.1f} {v:>10.1f}")


if __name__ == "__main__":
    main()
