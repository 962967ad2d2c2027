"""Models trained from scratch: a character tokenizer, a small Llama, and training on a task family's easy
levels, so the loop can be watched extending a model to harder levels within minutes on a CPU.

The result is an ordinary checkpoint (model and tokenizer from `save_pretrained`, plus `seed.json` with the
seed's own accuracy per level), usable anywhere `--model` is.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .common import TrainingError
from .sft import SFTParams, train_sft

PAD, BOS, EOS = "<pad>", "<s>", "</s>"
# The model reads the task's prompt exactly as written, and an answer ends with the end token.
PASS_THROUGH_TEMPLATE = (
    "{% for m in messages %}{{ m['content'] }}{% if m['role'] == 'assistant' %}{{ eos_token }}{% endif %}{% endfor %}"
)


def char_tokenizer(alphabet: str, target: Path) -> Any:
    """A tokenizer with one token per character of `alphabet` (plus pad, bos and eos), saved to `target`, whose
    chat template passes the messages through unchanged."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {PAD: 0, BOS: 1, EOS: 2}
    for ch in alphabet:
        vocab.setdefault(ch, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=PAD))
    tok.pre_tokenizer = pre_tokenizers.Split(pattern="", behavior="isolated")
    tok.decoder = decoders.Fuse()
    wrapped = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, bos_token=BOS, eos_token=EOS)
    wrapped.chat_template = PASS_THROUGH_TEMPLATE
    wrapped.save_pretrained(target)
    return wrapped


@dataclass(kw_only=True)
class SeedParams:
    max_level: int = field(metadata={"help": "Train on levels 1..max_level (for addition: digits)."})
    steps: int = field(default=900, metadata={"help": "Optimizer steps."})
    batch_size: int = field(default=64, metadata={"help": "Examples per step."})
    learning_rate: float = field(default=2e-3, metadata={"help": "Peak learning rate (linear decay)."})
    warmup_steps: int = field(default=50, metadata={"help": "Linear warm-up steps."})
    hidden_size: int = field(default=128, metadata={"help": "Width of the model (128: about 1M parameters)."})
    layers: int = field(default=4, metadata={"help": "Transformer layers."})
    heads: int = field(default=4, metadata={"help": "Attention heads."})
    rope_theta: float = field(default=1e4, metadata={"help": "RoPE base."})
    seed: int = field(default=0, metadata={"help": "Seed for the initial weights and the data."})
    eval_per_level: int = field(default=100, metadata={"help": "Held-out tasks per level in the quality check."})
    min_accuracy: float = field(
        default=0.9, metadata={"help": "Quality check: least exact match on each trained level."}
    )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_model(tokenizer: Any, params: SeedParams, target: Path) -> int:
    """A randomly initialised Llama for `tokenizer`, saved to `target`; its parameter count."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(params.seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=params.hidden_size,
        intermediate_size=4 * params.hidden_size,
        num_hidden_layers=params.layers,
        num_attention_heads=params.heads,
        num_key_value_heads=params.heads,
        max_position_embeddings=128,
        rope_parameters={"rope_type": "default", "rope_theta": params.rope_theta},
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    model.save_pretrained(target)
    return int(model.num_parameters())


def level_accuracy(location: str, family: Any, levels: range, per_level: int, seed: int) -> dict[str, float]:
    """Greedy exact match of the model at `location` on `per_level` held-out tasks of each level."""
    from ..tools.generate import Generator, SamplingParams

    gen = Generator(location, batch_size=500)
    greedy = SamplingParams(n=1, temperature=0.0, max_new_tokens=family.answer_length(32))
    accuracy = {}
    for level in levels:
        tasks = family.heldout(n=per_level, seed=seed, levels=(level,))
        replies = gen.complete([t.prompt for t in tasks], greedy)
        right = sum(family.extract(r, t) == t.reference for t, (r,) in zip(tasks, replies, strict=True))
        accuracy[str(level)] = round(right / max(1, len(tasks)), 4)
    return accuracy


def check_seedable(family: Any, max_level: int) -> str:
    """The alphabet of `family`, when a model can be seeded on its levels 1..`max_level`; a TrainingError saying
    why not otherwise."""
    alphabet = getattr(family, "alphabet", None)
    if not alphabet:
        raise TrainingError(f"task family {family.name!r} has no character alphabet to train a model from scratch on")
    if not 1 <= max_level < max(family.levels):
        raise TrainingError(f"max level {max_level} must be from 1 to {max(family.levels) - 1}")
    return str(alphabet)


def seed_rows(family: Any, params: SeedParams) -> list[dict[str, str]]:
    """The shuffled training rows of a seed: levels 1..max_level in equal parts, enough for `params.steps`."""
    per_level = params.steps * params.batch_size // params.max_level + 1
    rows = [
        {"prompt": task.prompt, "completion": task.reference}
        for level in range(1, params.max_level + 1)
        for task in family.generate(split="train", difficulty=level, n=per_level, seed=params.seed)
    ]
    random.Random(params.seed).shuffle(rows)
    return rows


def seed_sft_params(params: SeedParams) -> SFTParams:
    """How a seed is trained: whole, one epoch of `params.steps` steps, in fp32."""
    return SFTParams(
        epochs=1.0,
        max_steps=params.steps,
        learning_rate=params.learning_rate,
        batch_size=params.batch_size,
        micro_batch_size=params.batch_size,  # a model this small costs a pass's overhead, not its activations
        warmup_steps=params.warmup_steps,
        bf16=False,
        seed=params.seed,
        max_length=64,
        adapter="full",
    )


def seed_model(family: Any, target: Path, params: SeedParams, progress: bool = True) -> dict[str, Any]:
    """Train a small Llama from scratch on levels 1..max_level of `family`, check its accuracy on held-out tasks
    of levels 1..max_level+2, and save it to `target` with the report in `target/seed.json`.

    Raises TrainingError (and leaves `target` absent) when a trained level stays below `min_accuracy`."""
    alphabet = check_seedable(family, params.max_level)
    work = target.parent / f".{target.name}.seeding"
    shutil.rmtree(work, ignore_errors=True)
    initial, trained = work / "initial", work / "trained"
    tokenizer = char_tokenizer(alphabet, initial)
    n_params = build_model(tokenizer, params, initial)
    rows = seed_rows(family, params)
    start = time.monotonic()
    result = train_sft(
        base=str(initial), rows=rows, output_dir=trained, params=seed_sft_params(params), progress=progress
    )
    train_s = time.monotonic() - start
    levels = range(1, min(params.max_level + 2, max(family.levels)) + 1)
    accuracy = level_accuracy(str(trained), family, levels, params.eval_per_level, params.seed)
    report = {
        "task": family.name,
        "max_level": params.max_level,
        "parameters": n_params,
        "examples": min(len(rows), result.steps * params.batch_size),
        "steps": result.steps,
        "train_s": round(train_s, 1),
        "final_loss": result.losses[-1] if result.losses else None,
        "accuracy": accuracy,
        "params": params.to_dict(),
    }
    (trained / "seed.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    weak = {k: v for k, v in accuracy.items() if int(k) <= params.max_level and v < params.min_accuracy}
    if weak:
        shown = ", ".join(f"level {k}: {v:.0%}" for k, v in weak.items())
        raise TrainingError(
            f"the seed is not reliable on the levels it was trained on ({shown}; needs {params.min_accuracy:.0%}); "
            f"train longer (--steps {2 * params.steps}) or with another --seed; the weak model is in {trained}"
        )
    if target.exists():
        shutil.rmtree(target)
    trained.rename(target)
    shutil.rmtree(work, ignore_errors=True)
    return report
