"""CPU threads for a small model's training: one, every core, or the count the trainers' timing probe keeps.

    python bench/threads.py [--steps 80] [--max-level 5]

Trains the model `autodidact seed` starts from (its defaults: about 1M parameters, 64 addition rows a step) with
SFT for `--steps` steps three ways, first on an idle machine and then beside processes that keep every core busy:
on one thread throughout (the rule before the probe), on every core throughout, and as the trainers do (one untimed
step, three timed on each count, the rest on the faster). Prints seconds per step, the ratio against one thread,
and the count each training kept. Beside busy processes the figures vary from run to run with how the scheduler
shares the cores; the probe decides once, from its first steps.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from autodidact.agent.cli import quiet_libraries
from autodidact.tools.tasks import get_family
from autodidact.trainers import common, train_sft
from autodidact.trainers.scratch import (
    SeedParams,
    build_model,
    char_tokenizer,
    check_seedable,
    seed_rows,
    seed_sft_params,
)


def _spin() -> None:
    while True:
        pass


@contextmanager
def busy(cores: int) -> Iterator[None]:
    """`cores` processes that spin until the block ends."""
    spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(cores)]
    for p in spinners:
        p.start()
    try:
        yield
    finally:
        for p in spinners:
            p.terminate()
            p.join()


def fixed_threads(n: int) -> Any:
    """A stand-in for the probe that keeps `n` threads on every step."""
    import torch
    from transformers import TrainerCallback

    class Fixed(TrainerCallback):  # type: ignore[misc]
        chosen = n
        step_s: dict[int, list[float]] = {}

        def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            torch.set_num_threads(n)

    return Fixed()


def seconds_per_step(
    rows: list[dict[str, str]], initial: Path, params: SeedParams, mode: str, cores: int
) -> tuple[float, Any]:
    probe = common.thread_probe
    if mode != "probe":
        common.thread_probe = lambda _cores, clock=None: fixed_threads(1 if mode == "one" else cores)
    try:
        with tempfile.TemporaryDirectory() as out:
            result = train_sft(
                base=str(initial),
                rows=rows,
                output_dir=Path(out) / "model",
                params=seed_sft_params(params),
                progress=False,
            )
    finally:
        common.thread_probe = probe
    return result.duration_s / result.steps, result.threads.get("chosen")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=80, help="SFT steps of each training")
    parser.add_argument("--max-level", type=int, default=5, help="addition digits of the rows")
    args = parser.parse_args(argv)
    quiet_libraries()
    cores = common.cpu_cores()
    if cores < 2:
        sys.exit("bench/threads.py: this machine gives the process one core; there is no thread count to choose")
    family = get_family("addition")
    params = SeedParams(max_level=args.max_level, steps=args.steps, warmup_steps=10)
    with tempfile.TemporaryDirectory() as work:
        initial = Path(work) / "initial"
        n_params = build_model(char_tokenizer(check_seedable(family, params.max_level), initial), params, initial)
        rows = seed_rows(family, params)
        print(f"{n_params / 1e6:.2f}M parameters, {params.batch_size} rows a step, {args.steps} steps, {cores} cores")
        print(f"{'machine':<8} {'threads':<14} {'s/step':>7} {'vs one':>7}  kept")
        for machine in ("idle", "busy"):
            with busy(cores) if machine == "busy" else nullcontext():
                base = None
                for mode in ("one", "every core", "probe"):
                    s, chosen = seconds_per_step(rows, initial, params, mode, cores)
                    base = base or s
                    print(f"{machine:<8} {mode:<14} {s:7.3f} {base / s:6.2f}x  {chosen}", flush=True)


if __name__ == "__main__":
    main()
