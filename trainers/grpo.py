"""Group relative policy optimisation with TRL, rewarded online by the sandbox.

For each prompt the model samples a group of completions during training; each completion's code runs in the
sandbox against the task's hidden tests through the same verifier the loop uses, and the reward is what the
harness observed (`verified_reward`). Only groups with mixed outcomes teach anything (the advantage is the
reward relative to the group), so GRPO wants tasks the model solves some of the time. It costs sampling during
training, which on a CPU is most of its time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..tools.tasks import Task, get_family
from ..tools.verify import Verdict
from .common import (
    TrainingError,
    TrainParams,
    TrainResult,
    batch_args,
    common_args,
    load_for_training,
    run_trainer,
    work_dir,
)

VerifyAll = Callable[[list[tuple[Task, str]]], list[Verdict]]
"""Verifies each (task, code) in the sandbox and returns the verdicts in order (`RunContext.verify_all`)."""


@dataclass(kw_only=True)
class GRPOParams(TrainParams):
    learning_rate: float = field(default=5e-6, metadata={"help": "Peak AdamW learning rate."})
    lora_learning_rate: float | None = field(
        default=5e-5,
        metadata={"help": "Peak learning rate with LoRA (10 x the full rate, as LoRA's best rate is reported to be)."},
    )
    epochs: float = field(default=2.0, metadata={"help": "Passes over the training prompts."})
    num_generations: int = field(
        default=4, metadata={"help": "Completions sampled per prompt (the group); batch_size must be a multiple."}
    )
    max_completion_length: int = field(default=256, metadata={"help": "Longest sampled completion, in tokens."})
    temperature: float = field(default=0.8, metadata={"help": "Sampling temperature during training."})
    beta: float = field(default=0.0, metadata={"help": "KL penalty towards the starting model (0: no reference)."})
    format_penalty: float = field(
        default=0.2, metadata={"help": "Reward subtracted when a completion has no code to run."}
    )


def verified_reward(verify_all: VerifyAll, format_penalty: float = 0.2) -> Callable[..., list[float]]:
    """A TRL reward function: 1 when the sandbox verifies the completion's code, 0 when the code fails, and
    `-format_penalty` when there is no code. Every call's verdicts are kept in `.verdicts` for inspection."""
    seen: list[Verdict] = []

    def sandbox_verified(completions: list[Any], task: list[str], **kwargs: Any) -> list[float]:
        tasks = [Task.from_dict(json.loads(t)) for t in task]
        texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]
        codes = [get_family(t.family).extract(text, t) for text, t in zip(texts, tasks, strict=True)]
        verdicts = verify_all(list(zip(tasks, codes, strict=True)))
        seen.extend(verdicts)
        return [
            1.0 if v.passed else (0.0 if code.strip() else -format_penalty)
            for v, code in zip(verdicts, codes, strict=True)
        ]

    sandbox_verified.verdicts = seen  # type: ignore[attr-defined]
    return sandbox_verified


def train_grpo(
    *,
    base: str,
    prompts: list[dict[str, Any]],
    reward: Callable[..., list[float]],
    output_dir: str | Path,
    params: GRPOParams,
    log_dir: str | Path | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train the checkpoint at `base` with GRPO on `prompts` ({"prompt": chat text, "task": Task as JSON})."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    if not prompts:
        raise TrainingError("no prompts to train on")
    batch = batch_args(params.batch_size, params.micro_batch_size)
    if (batch["per_device_train_batch_size"] * batch["gradient_accumulation_steps"]) % params.num_generations:
        raise TrainingError(
            f"batch_size {params.batch_size} in passes of micro_batch_size {params.micro_batch_size} is not a "
            f"multiple of num_generations {params.num_generations}"
        )
    output = Path(output_dir)
    model, tokenizer, adapter, peft_config = load_for_training(base, params)
    tokenizer.padding_side = "left"
    work = work_dir(output)
    config = GRPOConfig(
        **common_args(params, work, adapter),
        num_generations=params.num_generations,
        max_completion_length=params.max_completion_length,
        temperature=params.temperature,
        beta=params.beta,
        remove_unused_columns=False,
        log_completions=False,
    )
    dataset = Dataset.from_list([{"prompt": p["prompt"], "task": p["task"]} for p in prompts])
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[reward],  # type: ignore[list-item]
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    return run_trainer(
        trainer,
        method="grpo",
        tokenizer=tokenizer,
        adapter=adapter,
        params=params,
        work=work,
        output=output,
        rows=len(prompts),
        log_dir=log_dir,
        progress=progress,
    )
