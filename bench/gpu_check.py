"""The loop on a CUDA machine in one call: the rates that size a run (sampling tokens/s, seconds per training
step) on a model of the default model's shape, then one round of the loop (seed, sample, verify, train, judge).

    scripts/gpu-check [--prompts 256] [--max-new-tokens 192] [--train-steps 10] [--allow-cpu]

`scripts/gpu-check` runs this on a machine with PyTorch, transformers, peft and accelerate but no package
registry: `scripts/pack-gpu-check` packs the other dependencies as wheels beside the repository first. The
default model's weights (98 MB) do not travel, so the rates are measured on a model of its shape (its
config.json and tokenizer, packed too) with random weights: a row of random tokens runs to the token limit,
so tokens/s is the figure to compare, not answers/s. The round runs on a model trained from scratch on
additions by `autodidact seed`, the proving ground's setting, so that its verdicts mean something.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from autodidact.tools.generate import Generator, SamplingParams
from autodidact.tools.tasks import get_family
from autodidact.trainers import SFTParams, train_sft

SEED_ARGS = ["--max-digits", "5", "--hidden-size", "64", "--steps", "700", "--learning-rate", "3e-3"]
"""The proving ground's seed (tests/test_proving_ground.py)."""


def shaped_model(config_dir: Path, target: Path) -> str:
    """A model with the config and tokenizer in `config_dir` and random weights, saved to `target`."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(config_dir), dtype=torch.bfloat16)
    model.save_pretrained(target)
    AutoTokenizer.from_pretrained(config_dir).save_pretrained(target)
    return str(target)


def sampling_rate(location: str, prompts: int, max_new_tokens: int) -> dict[str, float]:
    family = get_family("python-functions")
    tasks = family.generate(split="train", difficulty=2, n=prompts, seed=0)
    generator = Generator(location, batch_size=min(prompts, 128))
    params = SamplingParams(temperature=0.8, max_new_tokens=max_new_tokens, stop_after_code=False, seed=0)
    generator.complete([t.prompt for t in tasks[:8]], params)  # kernels compiled and caches warm
    generator.generated_tokens = 0
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    generator.complete([t.prompt for t in tasks], params)
    wall = time.perf_counter() - start
    return {"answers": prompts, "tokens": generator.generated_tokens, "wall_s": wall}


def training_rate(location: str, steps: int, out: Path) -> dict[str, Any]:
    family = get_family("python-functions")
    tasks = family.generate(split="train", difficulty=2, n=8 * steps, seed=1)
    completion = "```python\n" + "\n".join(f"    value_{i} = value_{i - 1} + {i}" for i in range(1, 24)) + "\n```"
    rows = [{"prompt": t.prompt, "completion": completion} for t in tasks]
    cuda = torch.cuda.is_available()
    params = SFTParams(
        epochs=1.0, max_steps=steps, batch_size=8, micro_batch_size=8 if cuda else 2, bf16=True, adapter="full"
    )
    result = train_sft(base=location, rows=rows, output_dir=out, params=params, progress=False)
    return {"steps": result.steps, "wall_s": result.duration_s, "loss": result.losses[-1]}


def one_round(work: Path) -> int:
    from autodidact.agent.cli import main

    seed = work / "seed"
    if main(["seed", "--task", "addition", "--output", str(seed), *SEED_ARGS]) != 0:
        return 1
    run = work / "run"
    argv = ["run", "add longer numbers", "--tasks", "addition", "--model", str(seed), "--run-dir", str(run),
            "--rounds", "1", "--levels", "1,2,3,4,5,6,7", "--heldout-tasks", "200"]  # fmt: skip
    return main(argv)  # it ends with the round's table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-config", type=Path, default=Path(".gpu/model"), help="config.json and tokenizer")
    parser.add_argument("--prompts", type=int, default=256)
    parser.add_argument("--max-new-tokens", type=int, default=192)
    parser.add_argument("--train-steps", type=int, default=10)
    parser.add_argument("--allow-cpu", action="store_true", help="run without CUDA (to check the script itself)")
    args = parser.parse_args()
    if not torch.cuda.is_available() and not args.allow_cpu:
        sys.exit("torch sees no CUDA device here (--allow-cpu runs the check on the CPU)")
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    print(f"device: {device}; torch {torch.__version__}", flush=True)
    with tempfile.TemporaryDirectory(prefix="autodidact-gpu-check-") as tmp:
        work = Path(tmp)
        model = shaped_model(args.model_config, work / "shaped")
        sample = sampling_rate(model, args.prompts, args.max_new_tokens)
        print(
            f"sampling (default model's shape, random weights, bf16, temperature 0.8): {sample['answers']} answers, "
            f"{sample['tokens']} tokens in {sample['wall_s']:.1f} s = {sample['tokens'] / sample['wall_s']:.0f} "
            "tokens/s",
            flush=True,
        )
        trained = training_rate(model, args.train_steps, work / "trained")
        print(
            f"training (SFT, whole model, bf16, 8 rows a step): {trained['steps']} steps in {trained['wall_s']:.1f} s "
            f"= {trained['wall_s'] / max(1, trained['steps']):.2f} s per step, last loss {trained['loss']:.3f}",
            flush=True,
        )
        started = time.perf_counter()
        code = one_round(work)
        print(f"one round of the loop (seed and round): {time.perf_counter() - started:.0f} s, exit {code}")
        return code


if __name__ == "__main__":
    sys.exit(main())
