"""Supervised fine-tuning on verified (prompt, completion) rows with TRL, loss on the completion only.

This is rejection-sampling fine-tuning (STaR / ReST-EM): the rows are the model's own attempts (and repairs)
that the sandbox verified. It needs positives only, and learns most when the model solves few tasks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .common import TrainingError, TrainParams, TrainResult, common_args, load_for_training, run_trainer, work_dir


@dataclass(kw_only=True)
class SFTParams(TrainParams):
    pass


def train_sft(
    *,
    base: str,
    rows: list[dict[str, str]],
    output_dir: str | Path,
    params: SFTParams,
    log_dir: str | Path | None = None,
    progress: bool = True,
) -> TrainResult:
    """Fine-tune the checkpoint at `base` on `rows` ({"prompt", "completion"}) and save it to `output_dir`."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    if not rows:
        raise TrainingError("no rows to train on")
    output = Path(output_dir)
    model, tokenizer, adapter, peft_config = load_for_training(base, params)
    tokenizer.padding_side = "right"
    work = work_dir(output)
    config = SFTConfig(
        **common_args(params, work, adapter),
        max_length=params.max_length,
        pad_to_multiple_of=params.pad_to_multiple_of or None,
        completion_only_loss=True,
    )
    dataset = Dataset.from_list([{"prompt": r["prompt"], "completion": r["completion"]} for r in rows])
    trainer = SFTTrainer(
        model=model, args=config, train_dataset=dataset, processing_class=tokenizer, peft_config=peft_config
    )
    processed: Any = trainer.train_dataset
    tokens = sum(len(ids) for ids in processed["input_ids"]) * math.ceil(params.epochs)
    return run_trainer(
        trainer,
        method="sft",
        tokenizer=tokenizer,
        adapter=adapter,
        params=params,
        work=work,
        output=output,
        rows=len(rows),
        log_dir=log_dir,
        progress=progress,
        train_tokens=tokens,
    )
