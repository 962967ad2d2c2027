"""A tiny Llama built inside the tests (no download, seconds on a CPU).

A byte-level BPE tokenizer with a few hundred tokens is trained on task prompts and reference solutions (the
default model's 49k-token vocabulary would make every step of a 64-wide model cost as much as a real one),
with the same ChatML chat template as SmolLM2. `warm_up` then teaches the model the reply format and the easy
templates, half of the time from the reference solution and half from a wrong one (`return None`): the model
ends up answering right about half of the time, like a model at the edge of its ability, so that sampling,
verification and fine-tuning on the verified half have something real to improve.
"""

from __future__ import annotations

import random
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from autodidact.tools.tasks.python_functions import make_task, training_templates
from autodidact.trainers import SFTParams, train_sft

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _corpus(n: int = 400) -> list[str]:
    rng = random.Random(1234)
    texts = []
    for _ in range(n):
        task = make_task(rng.choice(training_templates()), rng, "train")
        texts += [*task.wordings, f"```python\n{task.reference}\n```"]
    return texts


def build_tokenizer(target: Path, vocab_size: int = 600) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|im_end|>", "<|im_start|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|im_end|>", bos_token="<|im_start|>"
    )
    wrapped.chat_template = CHATML
    wrapped.save_pretrained(target)
    return wrapped


def build_tiny(target: Path, seed: int = 0) -> Path:
    tokenizer = build_tokenizer(target)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=192,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(target)
    return target


def warm_up(
    model_dir: Path,
    target: Path,
    *,
    levels=(1,),
    n_tasks: int = 200,
    epochs: float = 8.0,
    learning_rate: float = 1e-2,
    seed: int = 0,
    wrong_share: float = 0.5,
) -> Path:
    """Teach the tiny model the reply format and some easy templates from reference solutions."""
    tokenizer = PreTrainedTokenizerFast.from_pretrained(model_dir)
    rng = random.Random(seed)
    pool = [t for t in training_templates() if t.level in levels]
    rows = []
    for _ in range(n_tasks):
        task = make_task(rng.choice(pool), rng, "train")
        if rng.random() < wrong_share:
            answer = f"def {task.entry_point}(*args):\n    return None"
        else:
            answer = task.reference
        for wording in task.wordings:  # a stub is taught in plain words too
            prompt = tokenizer.apply_chat_template(
                [{"role": "user", "content": wording}], tokenize=False, add_generation_prompt=True
            )
            rows.append({"prompt": prompt, "completion": f"```python\n{answer}\n```"})
    train_sft(
        base=str(model_dir),
        rows=rows,
        output_dir=target,
        params=SFTParams(epochs=epochs, learning_rate=learning_rate, batch_size=16, bf16=False, seed=seed),
        progress=False,
    )
    return target
