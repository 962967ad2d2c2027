"""Sampling throughput of the inference backends on the same prompts, in one process: transformers unbatched (one
sequence at a time), transformers batched, and vLLM where a CUDA GPU and the `vllm` extra are present.

    python bench/generate.py [--model SmolLM2-135M-Instruct] [--prompts 32] [--samples 1] [--max-new-tokens 128]
                             [--batch-size 32] [--device cpu|cuda]

Prints, for each backend, wall time, generated tokens and tokens/s, and the ratio to unbatched transformers.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from collections.abc import Callable
from typing import Any

import torch

from autodidact.tools.generate import Generator, SamplingParams
from autodidact.tools.models import resolve_model
from autodidact.tools.tasks import get_family


def timed(label: str, run: Callable[[], Any], count_tokens: Callable[[], int]) -> tuple[str, float, int]:
    start = time.perf_counter()
    run()
    return label, time.perf_counter() - start, count_tokens()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--samples", type=int, default=1, help="samples per prompt (temperature 0.8 when > 1)")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    location = resolve_model(args.model)
    messages = [t.prompt for t in get_family("python-functions").heldout(n=args.prompts, seed=0)]
    params = SamplingParams(
        n=args.samples, temperature=0.8 if args.samples > 1 else 0.0, max_new_tokens=args.max_new_tokens
    )
    print(f"model {location}, {len(messages)} prompts x {args.samples}, up to {args.max_new_tokens} new tokens, "
          f"device {args.device}, {args.threads} CPU threads")  # fmt: skip

    results = []
    for label, batch in (("transformers unbatched", 1), (f"transformers batch {args.batch_size}", args.batch_size)):
        gen = Generator(location, batch_size=batch)
        gen.model.to(args.device)
        start = time.perf_counter()
        gen.complete(messages, params)
        results.append((label, time.perf_counter() - start, gen.generated_tokens))
    if args.device == "cuda" and importlib.util.find_spec("vllm") is not None:
        from autodidact.tools.backends import VLLMGenerator

        vllm_gen = VLLMGenerator(location)
        vllm_gen.complete(messages[:2], params)  # compile and warm the engine outside the timing
        vllm_gen.generated_tokens = 0

        def sample() -> Any:
            return vllm_gen.complete(messages, params)

        results.append(timed("vllm", sample, lambda: int(vllm_gen.generated_tokens)))
    else:
        print("vllm: not measured (needs a CUDA GPU and pip install 'autodidact[vllm]')")

    base = results[0][2] / results[0][1]
    for label, seconds, tokens in results:
        rate = tokens / seconds
        print(f"{label:<26} {seconds:8.1f} s  {tokens:7d} tokens  {rate:8.1f} tokens/s  x{rate / base:5.2f}")


if __name__ == "__main__":
    main()
