"""Inference backends as plugins: what samples attempts and answers held-out tasks for a checkpoint.

A `Backend` names a factory that builds a sampler for the checkpoint at a location (an object with
`complete(prompts, SamplingParams, progress=)`, `chat_prompt(message)` and a `generated_tokens` count, like
`tools.generate.Generator`), a check of the run's settings, and whether candidates must be LoRA adapters (an
engine that serves adapters over one base model). The built-ins register in the `autodidact.backends` entry
point group the way a plugin's backend does:

| backend | samples | candidates |
|---|---|---|
| `transformers` | in this process, batched (`tools.generate.Generator`) | any checkpoint |
| `vllm` | `vllm.LLM` in this process, GPU or CPU build (`tools.backends.VLLMGenerator`) | LoRA adapters |
| `openai` | an OpenAI-compatible server (`tools.backends.ServerGenerator`) | LoRA adapters loaded into it |
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..plugins import Registry


@dataclass(frozen=True)
class Backend:
    name: str
    description: str
    make: Callable[[str, Any], Any]
    """(checkpoint location, run config) -> a sampler for it."""
    check: Callable[[Any], str | None] = lambda config: None
    """Why the run's settings cannot use this backend (one line with the fix), or None."""
    lora_adapters: bool = False
    """Candidates are trained and kept as LoRA adapters over the starting model."""
    serves: bool = False
    """A server outside this process: a promoted adapter must be loaded into it (`load_adapter`)."""


def _transformers(location: str, config: Any) -> Any:
    from .generate import Generator

    return Generator(location, batch_size=config.sampling.batch_size, workers=config.sampling.decode_workers)


def _vllm(location: str, config: Any) -> Any:
    from .backends import VLLMGenerator

    return VLLMGenerator(location)


def _check_vllm(config: Any) -> str | None:
    from .backends import vllm_problem

    problem = vllm_problem()
    return f"--backend vllm: {problem}" if problem else None


def _openai(location: str, config: Any) -> Any:
    from .backends import ServerGenerator

    inference = config.inference
    return ServerGenerator(
        location,
        base_url=inference.backend_url,
        served_model=inference.backend_model,
        request_seeds=inference.request_seeds,
    )


def _check_openai(config: Any) -> str | None:
    if not (config.inference.backend_url and config.inference.backend_model):
        return "--backend openai needs --backend-url URL and --backend-model NAME (what it serves --model as)"
    return None


TRANSFORMERS = Backend("transformers", "this process, batched, CPU or GPU; any checkpoint", _transformers)
VLLM = Backend(
    "vllm",
    "vllm.LLM in this process (vLLM on a GPU, its CPU build on a CPU); candidates as LoRA requests",
    _vllm,
    _check_vllm,
    lora_adapters=True,
)
OPENAI = Backend(
    "openai",
    "an OpenAI-compatible server (vllm serve MODEL --enable-lora); candidates loaded into it as LoRA adapters",
    _openai,
    _check_openai,
    lora_adapters=True,
    serves=True,
)


def choose_backend(config: Any) -> tuple[str, str]:
    """What `--backend auto` means here, and why: vLLM on a GPU where it is installed; on a CPU, transformers. On 2
    cores vLLM's CPU build answered 1.55x as fast as our loop from the base model (`bench/generate.py`), but from a
    LoRA adapter, as every candidate is served, its CPU LoRA kernels answered ~0.2 prompts/s (40 greedy prompts in
    200 s, tests/test_vllm.py's loop): a round spends more there than it saves."""
    from . import backends

    if config.training.adapter == "full":
        return "transformers", "transformers: --adapter full (vLLM serves candidates as LoRA adapters)"
    problem = backends.vllm_problem()
    if problem is not None:
        return "transformers", "transformers: vLLM is not installed here"
    if backends.on_gpu():
        return "vllm", "vllm: installed, and a GPU is here"
    return "transformers", (
        "transformers: on a CPU, vLLM's CPU build serves LoRA adapters (every candidate) several times slower than "
        "this process's loop; --backend vllm chooses it anyway"
    )


BACKENDS: Mapping[str, Backend] = Registry("backends")
"""Every inference backend, built-in or plugin, by name (entry point group `autodidact.backends`)."""

__all__ = ["BACKENDS", "Backend", "OPENAI", "TRANSFORMERS", "VLLM", "choose_backend"]
