"""Training across processes (`--train-processes N`): the same TRL trainer, run by N processes at once with DDP.

`train_in_processes` writes the round's data and settings beside the checkpoint it will make, and starts N copies
of this module with torch's launcher (`python -m torch.distributed.run --standalone`, what `accelerate launch`
runs for several devices). In each process the TRL trainer sets up DDP through accelerate: gloo on a CPU, NCCL
with one process per GPU on a GPU machine. Each process takes its share of every step's rows (the step's
`batch_size` rows in all, as in one process) and averages gradients with the others; the first process writes the
training log and the checkpoint, in the formats a single process writes them. The trainer's result comes back as
`TrainResult`; a process that fails makes it a `TrainingError` with the process's last line of error output.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .common import TrainingError, TrainParams, TrainResult, is_first_process

SPEC = "spec.json"
RESULT = "result.json"


def train_in_processes(
    method: str,
    *,
    processes: int,
    base: str,
    items: list[dict[str, Any]],
    output_dir: str | Path,
    params: TrainParams,
    log_dir: str | Path | None = None,
    sandbox: str = "local",
    timeout_s: float | None = None,
    progress: bool = False,
) -> TrainResult:
    """Train `method` on `items` from `base` into `output_dir` with `processes` processes (see the module doc).
    GRPO's processes each verify in a `sandbox` of their own. No progress bar: the processes' output is read
    for errors."""
    output = Path(output_dir)
    output.parent.mkdir(parents=True, exist_ok=True)
    spec_dir = Path(tempfile.mkdtemp(prefix=f".{output.name}-launch-", dir=output.parent))
    try:
        (spec_dir / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in items), encoding="utf-8")
        spec = {
            "method": method,
            "base": str(base),
            "output_dir": str(output),
            "log_dir": str(log_dir) if log_dir is not None else None,
            "params": asdict(params),
            "sandbox": sandbox,
        }
        (spec_dir / SPEC).write_text(json.dumps(spec), encoding="utf-8")
        command = [
            sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes),
            "-m", "autodidact.trainers.processes", str(spec_dir),
        ]  # fmt: skip
        env = {**os.environ, "OMP_NUM_THREADS": str(max(1, len(os.sched_getaffinity(0)) // processes))}
        try:
            done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise TrainingError(f"training in {processes} processes took over {timeout_s:.0f} s") from None
        result = spec_dir / RESULT
        if done.returncode != 0 or not result.exists():
            raise TrainingError(f"training in {processes} processes failed: {_last_error(done.stderr)}")
        return TrainResult(**json.loads(result.read_text(encoding="utf-8")))
    finally:
        shutil.rmtree(spec_dir, ignore_errors=True)


def _last_error(stderr: str) -> str:
    """The line of a failed launch's output that says what went wrong: a process's last exception (a
    TrainingError's own message), not the launcher's report that a process failed."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    raised = [
        line
        for line in lines
        if re.match(r"^[A-Za-z_][\w.]*(Error|Exception)\b.*:", line) and not line.startswith("torch.distributed")
    ]
    if raised:
        return raised[-1].split("TrainingError:", 1)[-1].strip()
    return lines[-1] if lines else "no output"


def main(spec_dir: str) -> None:
    """One process of a launch: train as the spec says; the first process writes the result."""
    from . import TRAINERS

    spec = json.loads((Path(spec_dir) / SPEC).read_text(encoding="utf-8"))
    trainer = TRAINERS[spec["method"]]
    items = [json.loads(line) for line in (Path(spec_dir) / "items.jsonl").read_text(encoding="utf-8").splitlines()]
    common: dict[str, Any] = {
        "base": spec["base"],
        "output_dir": spec["output_dir"],
        "log_dir": spec["log_dir"],
        "progress": False,
        "params": trainer.params(**spec["params"]),
    }
    if trainer.data != "prompts":
        result = trainer.train(items=items, verify_all=None, **common)
    else:
        from ..sandbox import get_sandbox
        from ..tools.tasks import verify_each

        with get_sandbox(spec["sandbox"]) as sandbox:
            result = trainer.train(items=items, verify_all=lambda pairs: verify_each(pairs, sandbox), **common)
    if is_first_process():
        (Path(spec_dir) / RESULT).write_text(json.dumps(result.to_dict()), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
