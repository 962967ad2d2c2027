"""What every trainer shares: the common hyper-parameters, full or LoRA fine-tuning, the logs, atomic saving.

Each method module (`sft`, `dpo`, `grpo`) builds its TRL config and trainer and hands it to `run_trainer`,
which logs every step to `LOG_DIR/log_history.jsonl` (and to TensorBoard where it is installed), shows a
progress bar, stops on a non-finite loss, and saves the result: a LoRA adapter is merged into the weights
(`lora_output="merge"`, what the transformers backend loads) or kept as an adapter directory
(`lora_output="adapter"`, what a LoRA-serving engine loads). The checkpoint is written beside `output_dir`
and renamed into place, so `output_dir` either holds a whole checkpoint or does not exist.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..tools.models import is_adapter
from .lm_head import labelled_positions_only

# Full fine-tuning with AdamW needs ~16 bytes per parameter before activations; above this size LoRA is the
# default (at 135M parameters full fine-tuning fits a CPU and learned more in-distribution than LoRA).
SMALL_MODEL_PARAMS = 20_000_000
"""Below this a model is one `autodidact seed` trained from scratch: trained whole, its CPU threads chosen by
timing (`thread_probe`)."""
PROBE_STEPS = 3
"""Steps timed at each thread count a small model's training tries (after one untimed warm-up step)."""
LORA_LR_SCALE = 4.0
"""With LoRA and no rate of its own, the learning rate is this many times the full fine-tuning rate: an adapter's
best rate is several times a full fine-tune's (Biderman et al. 2024, "LoRA Learns Less and Forgets Less"; the
default run measured SFT at 2e-4 with LoRA against 5e-5 whole)."""


@dataclass(kw_only=True)
class TrainParams:
    """Hyper-parameters every method has. Each field's `help` is shown in the CLI and the tool schemas."""

    epochs: float = field(default=2.0, metadata={"help": "Passes over the training rows."})
    learning_rate: float = field(default=5e-5, metadata={"help": "Peak AdamW learning rate."})
    lora_learning_rate: float | None = field(
        default=None,
        metadata={"help": f"Peak learning rate with LoRA (default: {LORA_LR_SCALE:g} x learning_rate)."},
    )
    batch_size: int = field(default=8, metadata={"help": "Rows per optimizer step."})
    micro_batch_size: int = field(
        default=2,
        metadata={
            "help": "Rows through the model at once; batch_size is reached by gradient accumulation. Activations "
            "are most of training's memory (SFT on the default model: 8 rows at once peaked at 5.2 GB, 2 at 2.5)."
        },
    )
    warmup_steps: int = field(
        default=2,
        metadata={"help": "Linear warm-up steps (an integer: transformers reads values below 1 as a ratio)."},
    )
    max_steps: int = field(default=-1, metadata={"help": "Stop after this many optimizer steps (-1: by epochs)."})
    max_seconds: float = field(
        default=0.0,
        metadata={
            "help": "Begin no step that would end past this many seconds, judged by the last step's duration "
            "(0: no limit; a run sets it so that training leaves time for the rest of the round within the wall "
            "budget)."
        },
    )
    max_length: int = field(default=512, metadata={"help": "Longest prompt+completion in tokens; longer rows are cut."})
    pad_to_multiple_of: int = field(
        default=16,
        metadata={
            "help": "Pad each pass's rows to a multiple of this many tokens (0: to the longest row). On a CPU, "
            "oneDNN keeps a compiled matrix-product kernel, with its own memory, for every shape it sees: padded "
            "to the longest row, 20 SFT steps of the default model grew to 3.9 GB; padded to 16, 2.9 GB, as fast."
        },
    )
    bf16: bool = field(default=True, metadata={"help": "bf16 autocast (fast on CPUs with native bf16)."})
    seed: int = field(default=0, metadata={"help": "Seed for shuffling, sampling and initialisation."})
    adapter: Literal["auto", "full", "lora"] = field(
        default="auto",
        metadata={"help": f"full fine-tuning, LoRA, or auto (LoRA from {SMALL_MODEL_PARAMS // 10**6}M parameters)."},
    )
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scaling numerator (scale = alpha / r)."})
    lora_output: Literal["merge", "adapter"] = field(
        default="merge",
        metadata={"help": "merge the LoRA weights into the model, or save the adapter alone (for LoRA serving)."},
    )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(kw_only=True)
class TrainResult:
    method: str
    output_dir: str
    adapter: str
    """full | lora"""
    losses: list[float]
    steps: int
    rows: int
    duration_s: float
    train_tokens: int
    metrics: dict[str, Any] = field(default_factory=dict)
    """Method-specific series (GRPO: mean reward and completion length per step; DPO: reward margins)."""
    threads: dict[str, Any] = field(default_factory=dict)
    """The CPU threads training used ("chosen"), and for a small model the step seconds timed at each count."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class TrainingError(Exception):
    """Training produced something unusable (a non-finite loss, no data); the message says what."""


def choose_adapter(n_params: int, requested: str) -> tuple[str, str]:
    """full or lora for a model of `n_params` parameters, and why. A pretrained model is trained with LoRA: it
    learns its practice nearly as well and forgets less of what it could do (on the default run, full fine-tuning
    lost 4-8 of the 36 guard tasks and was refused; LoRA lost 1 and was promoted). A small model trained from
    scratch (`autodidact seed`) has nothing to keep and is trained whole."""
    if requested in ("full", "lora"):
        return requested, f"{requested} fine-tuning as requested"
    if not small_model(n_params):
        return "lora", f"LoRA: {n_params / 1e6:.0f}M parameters (a pretrained model forgets less this way)"
    return "full", f"full fine-tuning: {n_params / 1e6:.1f}M parameters (a small model, trained whole)"


def learning_rate(params: TrainParams, adapter: str) -> float:
    """The peak learning rate for `adapter` (full or lora)."""
    if adapter != "lora":
        return params.learning_rate
    return params.lora_learning_rate or params.learning_rate * LORA_LR_SCALE


def world_size() -> int:
    """Processes training together (`trainers/processes.py`; 1 outside such a launch)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_first_process() -> bool:
    """The process that writes the log and the checkpoint (the only one outside a launch)."""
    return int(os.environ.get("RANK", "0")) == 0


def cpu_cores() -> int:
    """The cores this process may use, shared out among the processes training together on this machine."""
    return max(1, len(os.sched_getaffinity(0)) // int(os.environ.get("LOCAL_WORLD_SIZE", "1")))


def small_model(n_params: int) -> bool:
    """Whether a model of `n_params` parameters is one trained from scratch (`SMALL_MODEL_PARAMS`)."""
    return n_params < SMALL_MODEL_PARAMS


def use_cpu_threads(n_params: int | None = None) -> None:
    """Every core for a model, except that a small one starts on one thread: its matrices are small enough that
    splitting them pays only on an idle machine (1M parameters, 64 rows a step: 1.8x faster on two threads), and
    beside a busy process two threads were 2.5-17x slower than one. `thread_probe` times both and keeps the faster."""
    import torch

    torch.set_num_threads(1 if n_params is not None and small_model(n_params) else cpu_cores())


def faster_thread_count(step_s: dict[int, list[float]]) -> int:
    """The thread count whose fastest timed step was the fastest (fewer threads on a tie or with no timing)."""
    timed = {n: min(times) for n, times in step_s.items() if times}
    return min(timed, key=lambda n: (timed[n], n)) if timed else 1


def load_for_training(base: str, params: TrainParams) -> tuple[Any, Any, str, Any]:
    """(model, tokenizer, "full" | "lora", peft config or None) for training the checkpoint at `base`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    use_cpu_threads()
    tokenizer = AutoTokenizer.from_pretrained(base)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if is_adapter(base) and params.lora_output == "adapter":
        # A LoRA champion that a server serves: train its adapter on, so that every candidate stays one adapter
        # over the same base model (what a LoRA-serving engine can load).
        from peft import AutoPeftModelForCausalLM

        model = AutoPeftModelForCausalLM.from_pretrained(base, dtype=torch.float32, is_trainable=True)
        use_cpu_threads(model.num_parameters())
        return model, tokenizer, "lora", None
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    use_cpu_threads(model.num_parameters())
    adapter, _ = choose_adapter(model.num_parameters(), params.adapter)
    peft_config = None
    if adapter == "lora":
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=params.lora_r,
            lora_alpha=params.lora_alpha,
            lora_dropout=0.0,
            target_modules="all-linear",
            task_type="CAUSAL_LM",
        )
    return model, tokenizer, adapter, peft_config


def common_args(params: TrainParams, work: Path, adapter: str) -> dict[str, Any]:
    """The TRL config arguments every method shares (CPU-friendly; logs every step; no checkpoints mid-run)."""
    import torch

    return {
        "output_dir": str(work / "trainer"),
        "num_train_epochs": params.epochs,
        "max_steps": params.max_steps,
        "learning_rate": learning_rate(params, adapter),
        # With several processes, each takes its share of a step's rows.
        **batch_args(math.ceil(params.batch_size / world_size()), params.micro_batch_size),
        "warmup_steps": params.warmup_steps,
        "lr_scheduler_type": "linear",
        "bf16": params.bf16,
        "use_cpu": not torch.cuda.is_available(),
        checkpointing_arg(): False,  # ample memory here, and recomputation is slower
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": [],
        "seed": params.seed,
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
    }


def batch_args(batch_size: int, micro_batch_size: int) -> dict[str, int]:
    """Rows per forward pass and passes per optimizer step, so that a step sees `batch_size` rows (or the next
    multiple of the pass size) and no pass holds more than `micro_batch_size` rows' activations."""
    if batch_size < 1 or micro_batch_size < 1:
        raise TrainingError(f"batch sizes must be at least 1 (batch_size {batch_size}, micro {micro_batch_size})")
    passes = math.ceil(batch_size / micro_batch_size)
    return {"per_device_train_batch_size": math.ceil(batch_size / passes), "gradient_accumulation_steps": passes}


def checkpointing_arg() -> str:
    """The training argument that turns activation checkpointing on or off (transformers 5.20 renamed it from
    `gradient_checkpointing`; vLLM's CPU build pins an earlier transformers)."""
    from transformers import TrainingArguments

    fields = TrainingArguments.__dataclass_fields__
    return "activation_checkpointing" if "activation_checkpointing" in fields else "gradient_checkpointing"


def work_dir(output: Path) -> Path:
    """A fresh temporary directory beside `output` (removed by `run_trainer`)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(output, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f".{output.name}-", dir=output.parent))


def _any_process(flag: bool) -> bool:
    """Whether `flag` is true in any of the processes training together (all must stop at the same step, or the
    others would wait for it forever)."""
    if world_size() == 1:
        return flag
    import torch
    import torch.distributed as dist

    value = torch.tensor([int(flag)])
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def thread_probe(cores: int, clock: Any = time.monotonic) -> Any:
    """A callback for a small model's training: one untimed step, `PROBE_STEPS` timed on one thread, as many on
    `cores` threads, then the rest on the count whose fastest step was faster. Its `step_s` keeps the timings and
    `chosen` the count (None until chosen)."""
    import torch
    from transformers import TrainerCallback

    plan = [1] * (1 + PROBE_STEPS) + [cores] * PROBE_STEPS  # the thread count of each of the first steps

    class ThreadProbe(TrainerCallback):  # type: ignore[misc]
        def __init__(self) -> None:
            self.step_s: dict[int, list[float]] = {1: [], cores: []}
            self.chosen: int | None = None
            self._began = 0.0

        def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if state.global_step < len(plan):
                torch.set_num_threads(plan[state.global_step])
            self._began = clock()

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            step = state.global_step - 1  # the step that just ended
            if 1 <= step < len(plan):
                self.step_s[plan[step]].append(round(clock() - self._began, 4))
            if step == len(plan) - 1:
                self.chosen = faster_thread_count(self.step_s)
                torch.set_num_threads(self.chosen)

    return ThreadProbe()


def _callbacks(
    log_file: Path | None, log_dir: Path | None, progress: bool, max_seconds: float = 0.0
) -> tuple[list[Any], list[dict[str, Any]]]:
    from transformers import TrainerCallback
    from transformers.trainer_callback import ProgressCallback

    history: list[dict[str, Any]] = []
    started = time.monotonic()
    last_end = started  # when the last step ended (training's start before the first)

    class Recorder(TrainerCallback):  # type: ignore[misc]
        """Keeps every log dict, appends it to the run's log file, and stops on a non-finite loss."""

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
            if not logs:
                return
            entry = {"step": state.global_step, **{k: v for k, v in logs.items() if isinstance(v, (int, float))}}
            history.append(entry)
            if log_file is not None and state.is_world_process_zero:
                with open(log_file, "a", encoding="utf-8") as f:
                    f.write(json.dumps(entry) + "\n")
            if "loss" in logs and not math.isfinite(float(logs["loss"])):
                control.should_training_stop = True

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            # The budget's limit: no step is begun that the last one's duration says would end past it (stopping
            # only once past it, DPO steps of 14 s took a last round 3.4 s over and its run over the wall budget).
            # The steps so far are the candidate.
            nonlocal last_end
            now = time.monotonic()
            step, last_end = now - last_end, now
            if max_seconds > 0 and _any_process(now + step - started > max_seconds):
                control.should_training_stop = True

    class BarOnly(ProgressCallback):  # type: ignore[misc]
        """The step bar on stderr, without printing every log dict (stdout is for results)."""

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            return None

    callbacks: list[Any] = [Recorder()]
    if progress and sys.stderr.isatty():  # a bar redraws with control codes: only on a terminal, never in a log
        callbacks.append(BarOnly())
    if log_dir is not None and is_first_process() and importlib.util.find_spec("tensorboard") is not None:
        from torch.utils.tensorboard import SummaryWriter
        from transformers.integrations import TensorBoardCallback

        callbacks.append(TensorBoardCallback(tb_writer=SummaryWriter(log_dir=str(log_dir))))
    return callbacks, history


def run_trainer(
    trainer: Any,
    *,
    method: str,
    tokenizer: Any,
    adapter: str,
    params: TrainParams,
    work: Path,
    output: Path,
    rows: int,
    log_dir: str | Path | None,
    progress: bool,
    train_tokens: int = 0,
) -> TrainResult:
    """Train, check the loss, save to `output` atomically, and report. Removes `work` whatever happens."""
    import torch
    from transformers.trainer_callback import PrinterCallback

    logs = Path(log_dir) if log_dir is not None else None
    if logs is not None:
        logs.mkdir(parents=True, exist_ok=True)
        (logs / "log_history.jsonl").unlink(missing_ok=True)
    callbacks, history = _callbacks(logs / "log_history.jsonl" if logs else None, logs, progress, params.max_seconds)
    threads = torch.get_num_threads()  # what load_for_training chose
    probe = None
    cores = cpu_cores()
    if cores > 1 and small_model(trainer.model.num_parameters()):
        probe = thread_probe(cores)
        callbacks.append(probe)
    trainer.remove_callback(PrinterCallback)
    for callback in callbacks:
        trainer.add_callback(callback)
    start = time.monotonic()
    try:
        with labelled_positions_only():
            trainer.train()
        losses = [float(h["loss"]) for h in history if "loss" in h]
        if not losses or not all(math.isfinite(x) for x in losses):
            raise TrainingError(f"the training loss became non-finite ({losses[-1] if losses else 'no loss'})")
        broken = next((n for n, p in trainer.model.named_parameters() if not p.isfinite().all()), None)
        if broken is not None:  # a diverged step can leave NaN weights behind a loss that reads 0
            raise TrainingError(f"the weights became non-finite ({broken}); lower the learning rate")
        if is_first_process():  # the others trained the same weights
            final = work / "model"
            model = trainer.model
            if adapter == "lora" and params.lora_output == "merge":
                model = model.merge_and_unload()
            model.save_pretrained(str(final))
            tokenizer.save_pretrained(str(final))
            os.replace(final, output)
    finally:
        torch.set_num_threads(cores)  # the process decodes next: a small model's one thread was for training
        for callback in callbacks:
            if getattr(callback, "tb_writer", None) is not None:
                callback.tb_writer.close()
        shutil.rmtree(work, ignore_errors=True)
    series = {
        key: [h[key] for h in history if key in h]
        for key in ("reward", "reward_std", "completions/mean_length", "rewards/chosen", "rewards/margins")
    }
    return TrainResult(
        method=method,
        output_dir=str(output),
        adapter=adapter,
        losses=losses,
        steps=trainer.state.global_step,
        rows=rows,
        duration_s=time.monotonic() - start,
        train_tokens=train_tokens,
        metrics={k: v for k, v in series.items() if v},
        threads=(
            {"chosen": probe.chosen, "step_s": {str(n): t for n, t in probe.step_s.items()}}
            if probe is not None
            else {"chosen": threads}
        ),
    )
