"""Batched sampling with transformers.

`Generator.complete` applies the chat template, left-pads a batch, and decodes with a loop of our own instead
of `model.generate`: a row leaves the batch (and the KV cache) as soon as it has written the end token,
closed its code block or begun to repeat itself (`loops.py`), so a batch costs what its unfinished rows cost.
Everything after the first closed code block is never read, so it is never generated.

With `workers` > 1, batches are decoded by that many threads at once, each with an equal share of torch's
threads: the decode loop's Python work of one batch then overlaps another's matrix products (`bench/acquire.py`
measures it). Each batch samples from its own generator, seeded from the call's seed and the batch's place, so
the answers do not depend on the number of workers.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from .loops import Looping
from .models import load_model, load_tokenizer


@dataclass(frozen=True, kw_only=True)
class SamplingParams:
    n: int = 1
    temperature: float = 0.0
    """0 means greedy."""
    top_p: float = 0.95
    max_new_tokens: int = 256
    stop_after_code: bool = True
    stop_on_loop: bool = True
    """Stop an answer that repeats one block of tokens (`loops.Looping`; our decode loop only)."""
    seed: int = 0


def kv_cache(output: Any) -> Any:
    """The KV cache a forward pass returned (`cache` from transformers 5.20, `past_key_values` before)."""
    return output.cache if hasattr(output, "cache") else output.past_key_values


def chat_prompt(tokenizer: Any, user_message: str) -> str:
    """One user message in the model's chat format, ready for the answer (what training rows start with too)."""
    return str(
        tokenizer.apply_chat_template(
            [{"role": "user", "content": user_message}], tokenize=False, add_generation_prompt=True
        )
    )


def batches(prompts: Sequence[str], n: int, batch_size: int) -> list[list[tuple[int, str]]]:
    """How a call's `n` completions of each prompt are batched: (prompt index, prompt) jobs sorted by prompt length
    (similar lengths in one batch waste less padding), `batch_size` to a batch. A batch's place in this list seeds
    its sampling (`batch_seed`), so whoever decodes it (a thread here, a Ray actor) draws the same answers."""
    jobs = sorted(((i, p) for i, p in enumerate(prompts) for _ in range(n)), key=lambda job: len(job[1]))
    return [jobs[start : start + batch_size] for start in range(0, len(jobs), batch_size)]


def batch_seed(seed: int, place: int) -> int:
    """The sampling seed of the batch at `place` in a call seeded `seed`."""
    return seed + 104729 * place


class ChatSampler:
    """A sampler that answers prompts already in the model's chat format (`complete_raw`, with the `tokenizer`
    whose chat template formats them); `complete` answers user messages through it. Our decode loop, vLLM in
    this process and the Ray cluster's sampler (`tools.cluster.ClusterGenerator`) are such samplers."""

    tokenizer: Any

    def chat_prompt(self, user_message: str) -> str:
        return chat_prompt(self.tokenizer, user_message)

    def complete(
        self,
        messages: Sequence[str],
        params: SamplingParams,
        progress: Callable[[int], None] | None = None,
    ) -> list[list[str]]:
        """`params.n` completions for each user message; `progress(k)` is called as k more are done."""
        return self.complete_raw([self.chat_prompt(m) for m in messages], params, progress)

    def complete_raw(
        self,
        prompts: Sequence[str],
        params: SamplingParams,
        progress: Callable[[int], None] | None = None,
    ) -> list[list[str]]:
        raise NotImplementedError


class Generator(ChatSampler):
    """Samples completions from one model checkpoint (bf16; on the GPU where there is one, else the CPU)."""

    def __init__(
        self, location: str, *, batch_size: int = 32, workers: int = 1, dtype: torch.dtype = torch.bfloat16
    ) -> None:
        self.location = location
        self.batch_size = batch_size
        self.workers = max(1, workers)
        self.tokenizer = load_tokenizer(location)
        self.tokenizer.padding_side = "left"
        self._looping = Looping(self.tokenizer)
        self.model = load_model(location, dtype=dtype).to("cuda" if torch.cuda.is_available() else "cpu")
        # transformers 5.20 renamed the KV cache argument and output from `past_key_values` to `cache` (vLLM's
        # CPU build pins an earlier transformers).
        self._cache_arg = "cache" if "cache" in inspect.signature(self.model.forward).parameters else "past_key_values"
        self.generated_tokens = 0
        self._lock = threading.Lock()
        """Guards the tokenizer and the token count between decoding threads."""

    def complete_raw(
        self,
        prompts: Sequence[str],
        params: SamplingParams,
        progress: Callable[[int], None] | None = None,
    ) -> list[list[str]]:
        """`params.n` completions for each prompt that is already in the model's chat format."""
        chunks = batches(prompts, params.n, self.batch_size)

        def decode(place: int) -> list[str]:
            generator = torch.Generator(device=self.model.device).manual_seed(batch_seed(params.seed, place))
            texts = self._decode_batch([p for _, p in chunks[place]], params, generator)
            if progress:
                progress(len(chunks[place]))
            return texts

        workers = min(self.workers, len(chunks))
        if workers > 1:
            with _threads_each(workers), ThreadPoolExecutor(workers) as pool:
                decoded = list(pool.map(decode, range(len(chunks))))
        else:
            decoded = [decode(place) for place in range(len(chunks))]
        out: list[list[str]] = [[] for _ in prompts]
        for chunk, texts in zip(chunks, decoded, strict=True):
            for (i, _), text in zip(chunk, texts, strict=True):
                out[i].append(text)
        return out

    @torch.inference_mode()
    def _decode_batch(self, prompts: list[str], params: SamplingParams, generator: torch.Generator) -> list[str]:
        tok = self.tokenizer
        with self._lock:  # a fast tokenizer is not to be used by two threads at once
            batch = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        device = self.model.device
        input_ids, mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)
        n = input_ids.shape[0]
        eos_ids = {tok.eos_token_id, tok.pad_token_id} - {None}
        tokens: list[list[int]] = [[] for _ in range(n)]
        generated = 0
        active = torch.arange(n, device=device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out = self.model(
            input_ids=input_ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1
        )
        cache, logits = kv_cache(out), out.logits[:, -1, :]
        for _ in range(params.max_new_tokens):
            next_ids = self._pick(logits, params, generator)
            keep = []
            for row, token in enumerate(next_ids.tolist()):
                seq = int(active[row])
                if token in eos_ids:
                    continue
                tokens[seq].append(token)
                if params.stop_after_code and self._closed_code(tokens[seq], token):
                    continue
                if params.stop_on_loop and self._looping(tokens[seq]):
                    continue
                keep.append(row)
            generated += len(next_ids)
            if not keep:
                break
            if len(keep) < len(active):
                index = torch.tensor(keep, device=device)
                cache.batch_select_indices(index)
                active, mask, next_ids = active[index], mask[index], next_ids[index]
            mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)
            out = self.model(
                input_ids=next_ids[:, None],
                attention_mask=mask,
                position_ids=mask.sum(-1, keepdim=True) - 1,
                use_cache=True,
                **{self._cache_arg: cache},
            )
            cache, logits = kv_cache(out), out.logits[:, -1, :]
        with self._lock:
            self.generated_tokens += generated
            return [tok.decode(t, skip_special_tokens=True) for t in tokens]

    @staticmethod
    def _pick(logits: torch.Tensor, params: SamplingParams, generator: torch.Generator) -> torch.Tensor:
        if params.temperature <= 0:
            return logits.argmax(-1)
        probs = torch.softmax(logits.float() / params.temperature, dim=-1)
        if params.top_p < 1.0:
            sorted_probs, order = probs.sort(dim=-1, descending=True)
            cumulative = sorted_probs.cumsum(-1)
            sorted_probs[(cumulative - sorted_probs) > params.top_p] = 0.0
            probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
        return torch.multinomial(probs, 1, generator=generator).squeeze(-1)

    def _closed_code(self, tokens: list[int], last: int) -> bool:
        with self._lock:
            if "`" not in self.tokenizer.decode([last]):
                return False
            return self.tokenizer.decode(tokens).count("```") >= 2


@contextmanager
def _threads_each(workers: int) -> Iterator[None]:
    """torch's intra-op threads shared out over `workers` decoding threads (a thread started inside takes the
    count set here), restored afterwards."""
    total = torch.get_num_threads()
    torch.set_num_threads(max(1, total // workers))
    try:
        yield
    finally:
        torch.set_num_threads(total)
