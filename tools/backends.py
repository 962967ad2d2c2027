"""Inference backends besides transformers (`tools.generate.Generator`), behind the same `complete` call.

- `ServerGenerator`: any OpenAI-compatible server (`vllm serve MODEL --enable-lora`, with
  `VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`). The starting model is requested under the name the server serves it
  as; a LoRA checkpoint (a candidate, or a promoted champion) is loaded into the running server through vLLM's
  `/v1/load_lora_adapter` and requested by its adapter name. Requests go out concurrently: the server batches.
- `VLLMGenerator`: vLLM in this process (`vllm.LLM`, GPU), one engine per base model, each LoRA checkpoint
  sent as a `LoRARequest`. An optional extra (`pip install 'autodidact[vllm]'`).

Both serve only what a LoRA engine can load: the base model, and adapters over it (`--adapter lora
--lora-output adapter`, which `autodidact run` sets for these backends).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .codeblock import truncate_after_code
from .generate import SamplingParams, chat_prompt
from .models import ADAPTER_CONFIG, ModelError, is_adapter, load_tokenizer

LORA_ROUTE = "/load_lora_adapter"


def adapter_name(location: str) -> str:
    """A name for the adapter at `location`, unique to its path (two runs' `round-1` do not collide)."""
    path = str(Path(location).resolve())
    return f"{Path(path).name}-{hashlib.sha256(path.encode()).hexdigest()[:8]}"


class ServerGenerator:
    """Samples from a model on an OpenAI-compatible server (see the module doc)."""

    def __init__(
        self, location: str, *, base_url: str, served_model: str, timeout_s: float = 600.0, concurrency: int = 16
    ) -> None:
        from openai import OpenAI

        from .chat import api_key

        self.location = location
        self.base_url = base_url.rstrip("/")
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.generated_tokens = 0
        self._lock = threading.Lock()
        self.client = OpenAI(base_url=self.base_url, api_key=api_key(), timeout=timeout_s, max_retries=2)
        self.name = adapter_name(location) if is_adapter(location) else served_model
        self._loaded = False

    def load_adapter(self) -> None:
        """Load this checkpoint, a LoRA adapter, into the running server (one already there is fine; the base
        model needs nothing). Done before the first request, and again after a promotion."""
        import httpx

        self._loaded = True
        if not is_adapter(self.location):
            return
        body = {"lora_name": self.name, "lora_path": str(Path(self.location).resolve())}
        try:
            response = httpx.post(f"{self.base_url}{LORA_ROUTE}", json=body, timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            raise ModelError(f"cannot load the adapter into {self.base_url}: {exc}") from None
        if response.status_code >= 400 and "already" not in response.text:
            raise ModelError(
                f"{self.base_url} refused the adapter {body['lora_name']} (HTTP {response.status_code}: "
                f"{response.text[:200]}); start the server with --enable-lora and "
                "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True"
            )

    def chat_prompt(self, user_message: str) -> str:
        """The prompt as training sees it: the checkpoint's own chat template (the server applies the same)."""
        return chat_prompt(load_tokenizer(self.location), user_message)

    def complete(
        self, messages: Sequence[str], params: SamplingParams, progress: Callable[[int], None] | None = None
    ) -> list[list[str]]:
        import openai

        if not self._loaded:
            self.load_adapter()

        def one(message: str) -> list[str]:
            try:
                response = self.client.chat.completions.create(
                    model=self.name,
                    messages=[{"role": "user", "content": message}],
                    n=params.n,
                    temperature=params.temperature,
                    top_p=params.top_p if params.temperature > 0 else 1.0,
                    max_tokens=params.max_new_tokens,
                    seed=params.seed,
                )
            except openai.OpenAIError as exc:
                raise ModelError(f"{self.base_url} could not sample from {self.name}: {exc}") from None
            texts = [c.message.content or "" for c in response.choices]
            with self._lock:
                self.generated_tokens += response.usage.completion_tokens if response.usage else 0
            if progress:
                progress(params.n)
            return [truncate_after_code(t) for t in texts] if params.stop_after_code else texts

        with ThreadPoolExecutor(self.concurrency) as pool:
            return list(pool.map(one, messages))


class VLLMGenerator:
    """Samples with vLLM in this process (see the module doc)."""

    _engines: dict[str, Any] = {}

    def __init__(self, location: str) -> None:
        try:
            import vllm  # noqa: F401
        except ImportError:
            raise ModelError("the vllm backend needs vLLM: pip install 'autodidact[vllm]' (and a GPU)") from None
        self.location = location
        self.generated_tokens = 0
        self.lora: Any = None
        base = location
        if is_adapter(location):
            from vllm.lora.request import LoRARequest

            base = json.loads((Path(location) / ADAPTER_CONFIG).read_text())["base_model_name_or_path"]
            lora_id = int(hashlib.sha256(adapter_name(location).encode()).hexdigest()[:7], 16) + 1
            self.lora = LoRARequest(adapter_name(location), lora_id, str(Path(location).resolve()))
        self.engine = self.engine_for(base)
        self.tokenizer = self.engine.get_tokenizer()

    @classmethod
    def engine_for(cls, base: str) -> Any:
        if base not in cls._engines:
            from vllm import LLM

            cls._engines[base] = LLM(model=base, enable_lora=True, max_lora_rank=64, max_loras=2, seed=0)
        return cls._engines[base]

    def chat_prompt(self, user_message: str) -> str:
        return chat_prompt(self.tokenizer, user_message)

    def complete(
        self, messages: Sequence[str], params: SamplingParams, progress: Callable[[int], None] | None = None
    ) -> list[list[str]]:
        return self.complete_raw([self.chat_prompt(m) for m in messages], params, progress)

    def complete_raw(
        self, prompts: Sequence[str], params: SamplingParams, progress: Callable[[int], None] | None = None
    ) -> list[list[str]]:
        from vllm import SamplingParams as VLLMParams

        sampling = VLLMParams(
            n=params.n,
            temperature=params.temperature,
            top_p=params.top_p if params.temperature > 0 else 1.0,
            max_tokens=params.max_new_tokens,
            seed=params.seed,
        )
        outputs = self.engine.generate(list(prompts), sampling, lora_request=self.lora, use_tqdm=False)
        texts = [[o.text for o in out.outputs] for out in outputs]
        self.generated_tokens += sum(len(o.token_ids) for out in outputs for o in out.outputs)
        if progress:
            progress(len(prompts) * params.n)
        return [[truncate_after_code(t) for t in row] for row in texts] if params.stop_after_code else texts
