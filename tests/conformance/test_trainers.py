"""The trainer contract, checked against every registered trainer (built-in or plugin) through the path a run takes
(`Trainer.train` with the data select builds for it): the loss is finite and logged step by step, the weights
change, and the checkpoint loads as a model."""

from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from autodidact.sandbox import LocalSandbox
from autodidact.tools.generate import Generator
from autodidact.tools.tasks import get_family, verify_each
from autodidact.trainers import TRAINERS

FAST = {"bf16": False, "batch_size": 4, "learning_rate": 1e-3, "warmup_steps": 1, "max_steps": 3}


def items_for(kind: str, model) -> list[dict]:
    """Data of the kind select builds for a trainer: verified rows, preference pairs, or prompts with their tasks."""
    tasks = get_family("python-functions").generate(split="train", difficulty=1, n=8, seed=3)
    chat = Generator(str(model)).chat_prompt
    right = [f"```python\n{t.reference}\n```" for t in tasks]
    wrong = [f"```python\ndef {t.entry_point}(*args):\n    return None\n```" for t in tasks]
    if kind == "selected":
        return [{"prompt": chat(t.prompt), "completion": r} for t, r in zip(tasks, right, strict=True)]
    if kind == "pairs":
        rows = zip(tasks, right, wrong, strict=True)
        return [{"prompt": chat(t.prompt), "chosen": r, "rejected": w} for t, r, w in rows]
    return [{"task_id": t.id, "prompt": chat(t.prompt), "task": json.dumps(t.to_dict())} for t in tasks]


@pytest.fixture(scope="module")
def sandbox():
    box = LocalSandbox(workers=2)
    yield box
    box.close()


@pytest.mark.parametrize("name", sorted(TRAINERS))
def test_a_trainer_changes_the_weights_logs_a_finite_loss_and_saves_a_loadable_checkpoint(
    name, warm_model, sandbox, tmp_path
):
    trainer = TRAINERS[name]
    known = {f for f in trainer.params.__dataclass_fields__}
    extra = {"num_generations": 4, "max_completion_length": 32} if "num_generations" in known else {}
    params = trainer.params(**{k: v for k, v in FAST.items() if k in known}, **extra)
    output, logs = tmp_path / "candidate", tmp_path / "logs"
    result = trainer.train(
        base=str(warm_model),
        items=items_for(trainer.data, warm_model),
        output_dir=output,
        params=params,
        log_dir=logs,
        progress=False,
        verify_all=lambda pairs: verify_each(pairs, sandbox),
    )
    assert result.steps > 0 and result.losses and all(math.isfinite(x) for x in result.losses)
    logged = [json.loads(line) for line in (logs / "log_history.jsonl").read_text().splitlines()]
    assert [e["loss"] for e in logged if "loss" in e] == pytest.approx(result.losses)
    before, after = load_file(str(warm_model / "model.safetensors")), load_file(str(output / "model.safetensors"))
    assert before.keys() == after.keys() and any(not before[k].equal(after[k]) for k in before)
    model = AutoModelForCausalLM.from_pretrained(output)
    with torch.no_grad():
        logits = model(torch.tensor([[1, 2, 3]])).logits
    assert torch.isfinite(logits).all()
