"""Supervised fine-tuning on verified (prompt, completion) rows with TRL, loss on the completion only.

This is rejection-sampling fine-tuning (STaR / ReST-EM): the rows are the model's own attempts that the
sandbox verified. Full fine-tuning: at 135M parameters it fits a CPU and learns more in-distribution than LoRA.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(kw_only=True)
class SFTParams:
    epochs: float = field(default=2.0, metadata={"help": "Passes over the selected rows."})
    learning_rate: float = field(default=5e-5, metadata={"help": "Peak AdamW learning rate."})
    batch_size: int = field(default=8, metadata={"help": "Rows per optimizer step."})
    warmup_steps: int = field(
        default=2,
        metadata={"help": "Linear warm-up steps (an integer: transformers reads values below 1 as a ratio)."},
    )
    max_length: int = field(default=512, metadata={"help": "Longest prompt+completion in tokens; longer rows are cut."})
    bf16: bool = field(default=True, metadata={"help": "bf16 autocast (fast on CPUs with native bf16)."})
    seed: int = field(default=0, metadata={"help": "Seed for shuffling and initialisation."})


@dataclass(kw_only=True)
class TrainResult:
    output_dir: str
    losses: list[float]
    steps: int
    rows: int
    duration_s: float
    train_tokens: int


class TrainingError(Exception):
    """Training produced something unusable (a non-finite loss); the message says what."""


def train_sft(
    *,
    base: str,
    rows: list[dict[str, str]],
    output_dir: str | Path,
    params: SFTParams,
    log_dir: str | Path | None = None,
    progress: bool = True,
) -> TrainResult:
    """Fine-tune the checkpoint at `base` on `rows` ({"prompt", "completion"}) and save it to `output_dir`.

    The checkpoint is written to a temporary directory beside `output_dir` and renamed into place, so
    `output_dir` either holds a whole checkpoint or does not exist.
    """
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from transformers.trainer_callback import PrinterCallback, ProgressCallback
    from trl import SFTConfig, SFTTrainer

    if not rows:
        raise TrainingError("no rows to train on")
    torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
    output = Path(output_dir)
    output.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(output, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix=f".{output.name}-", dir=output.parent))
    losses: list[float] = []

    class LossLog(TrainerCallback):  # type: ignore[misc]
        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kw: Any) -> None:
            if logs and "loss" in logs:
                losses.append(float(logs["loss"]))
                if not math.isfinite(losses[-1]):
                    control.should_training_stop = True

    class BarOnly(ProgressCallback):  # type: ignore[misc]
        """The step bar on stderr, without printing every log dict (stdout is for results)."""

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            return None

    tokenizer = AutoTokenizer.from_pretrained(base)
    tokenizer.padding_side = "right"
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    config = SFTConfig(
        output_dir=str(work / "trainer"),
        num_train_epochs=params.epochs,
        learning_rate=params.learning_rate,
        per_device_train_batch_size=params.batch_size,
        gradient_accumulation_steps=1,
        warmup_steps=params.warmup_steps,
        lr_scheduler_type="linear",
        max_length=params.max_length,
        completion_only_loss=True,
        bf16=params.bf16,
        use_cpu=True,
        activation_checkpointing=False,  # ample memory here, and recomputation is slower
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        seed=params.seed,
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    dataset = Dataset.from_list([{"prompt": r["prompt"], "completion": r["completion"]} for r in rows])
    trainer = SFTTrainer(
        model=model, args=config, train_dataset=dataset, processing_class=tokenizer, callbacks=[LossLog()]
    )
    trainer.remove_callback(PrinterCallback)
    if progress:
        trainer.add_callback(BarOnly())
    processed: Any = trainer.train_dataset
    train_tokens = sum(len(ids) for ids in processed["input_ids"])
    start = time.monotonic()
    try:
        trainer.train()
        if not losses or not all(math.isfinite(x) for x in losses):
            raise TrainingError(f"the training loss became non-finite ({losses[-1] if losses else 'no loss'})")
        final = work / "model"
        trainer.save_model(str(final))
        tokenizer.save_pretrained(str(final))
        os.replace(final, output)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return TrainResult(
        output_dir=str(output),
        losses=losses,
        steps=trainer.state.global_step,
        rows=len(rows),
        duration_s=time.monotonic() - start,
        train_tokens=train_tokens * math.ceil(params.epochs),
    )
