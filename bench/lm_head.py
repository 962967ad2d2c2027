"""Seconds per training step with TRL's fused LM head scoring every position, and scoring the labelled ones only.

    python bench/lm_head.py [--steps 8] [--repeats 2] [--methods sft,dpo]

Trains the default model as a round of the default run does (LoRA, 8 rows a step in passes of 2, bf16 autocast)
on reference solutions of practice tasks of the `python-functions` family, written as the loop writes its rows
(the chat prompt, and the answer in a code block; for DPO, the reference over a wrong answer), for `--steps` steps
each way, alternating the two `--repeats` times in this one process. Prints seconds per step, each way's losses
(they should agree), and the ratio. `trainers/lm_head.py` says why the two differ on a CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from autodidact.agent.cli import quiet_libraries
from autodidact.agent.config import RunConfig
from autodidact.agent.nodes.train import method_params
from autodidact.tools.generate import Generator
from autodidact.tools.models import resolve_model
from autodidact.tools.tasks import get_family
from autodidact.trainers import common, train_dpo, train_sft


@contextlib.contextmanager
def every_position() -> Iterator[bool]:
    """TRL's own choice: every position scored on a CPU."""
    yield False


def rows(model: str, n: int) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """SFT rows and DPO pairs from `n` practice tasks and their reference solutions."""
    gen = Generator(model)
    family = get_family("python-functions")
    tasks = [t for level in (1, 2, 3) for t in family.generate(split="train", difficulty=level, n=n // 3, seed=0)]
    sft, dpo = [], []
    for task in tasks:
        prompt, answer = gen.chat_prompt(task.prompt), f"```python\n{task.reference.strip()}\n```"
        sft.append({"prompt": prompt, "completion": answer})
        wrong = f"```python\ndef {task.entry_point}(*args):\n    return None\n```"
        dpo.append({"prompt": prompt, "chosen": answer, "rejected": wrong})
    return sft, dpo


def train_once(method: str, model: str, data: list[dict[str, str]], steps: int, out: Path) -> Any:
    params = replace(method_params(method, RunConfig(goal="bench"), len(data), 1, max_steps=steps), max_steps=steps)
    if method == "sft":
        return train_sft(base=model, rows=data, output_dir=out, params=params, progress=False)
    return train_dpo(base=model, pairs=data, output_dir=out, params=params, progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=8, help="steps each training takes")
    parser.add_argument("--repeats", type=int, default=2, help="trainings each way, alternating")
    parser.add_argument("--methods", default="sft,dpo", help="comma-separated: sft, dpo")
    args = parser.parse_args()
    quiet_libraries()
    model = resolve_model(None)
    sft, dpo = rows(model, 48)
    labelled = common.labelled_positions_only
    print(f"{model}: {len(sft)} rows, {args.steps} steps a training, {args.repeats} trainings each way")
    with tempfile.TemporaryDirectory() as tmp:
        for method in args.methods.split(","):
            data = sft if method == "sft" else dpo
            per_step: dict[str, list[float]] = {"every position": [], "labelled only": []}
            losses: dict[str, list[float]] = {}
            for _ in range(args.repeats):
                for way, hook in (("every position", every_position), ("labelled only", labelled)):
                    common.labelled_positions_only = hook
                    try:
                        result = train_once(method, model, data, args.steps, Path(tmp) / "out")
                    finally:
                        common.labelled_positions_only = labelled
                    per_step[way].append(result.duration_s / result.steps)
                    losses[way] = result.losses
            for way, times in per_step.items():
                shown = ", ".join(f"{x:.4g}" for x in losses[way][:4])
                print(f"{method} {way:>15}: {statistics.median(times):.2f} s/step (losses {shown}, ...)")
            ratio = statistics.median(per_step["every position"]) / statistics.median(per_step["labelled only"])
            print(f"{method}: labelled only is {ratio:.2f}x as fast")


if __name__ == "__main__":
    main()
