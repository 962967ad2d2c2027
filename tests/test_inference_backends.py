"""The inference backends' parts that run without vLLM: the CPU build's settings, which backend `auto` picks,
and a rolled-back adapter leaving the server (against the scripted OpenAI-compatible server; vLLM itself is in
tests/test_vllm.py, marked `vllm`)."""

from __future__ import annotations

import json

import pytest
from chat_server import ScriptedChatServer

from autodidact.agent.config import RunConfig
from autodidact.tools import backends
from autodidact.tools.backends import ServerGenerator, adapter_name, core_list, prepare_vllm_cpu
from autodidact.tools.generate import SamplingParams
from autodidact.tools.inference import choose_backend


def test_cores_are_written_as_vllm_binds_them():
    assert core_list({0, 1}) == "0-1"
    assert core_list([5, 0, 1, 2, 7, 8]) == "0-2,5,7-8"
    assert core_list({3}) == "3"


def test_the_cpu_build_gets_its_settings_and_the_users_own_stay(monkeypatch):
    monkeypatch.setattr(backends.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    env: dict[str, str] = {"VLLM_CPU_OMP_THREADS_BIND": "all"}
    prepare_vllm_cpu(env)
    assert env == {
        "VLLM_CPU_OMP_THREADS_BIND": "0-3",  # "all" crashes the CPU build's parser
        "VLLM_CPU_KVCACHE_SPACE": str(backends.CPU_KV_CACHE_GIB),
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
    }
    mine = {"VLLM_CPU_OMP_THREADS_BIND": "1", "VLLM_CPU_KVCACHE_SPACE": "8", "VLLM_ENABLE_V1_MULTIPROCESSING": "1"}
    prepare_vllm_cpu(env := dict(mine))
    assert env == mine


@pytest.mark.parametrize(
    ("problem", "gpu", "adapter", "chosen", "because"),
    [
        ("not installed", True, "auto", "transformers", "not installed"),
        (None, True, "auto", "vllm", "GPU"),
        (None, False, "auto", "transformers", "CPU"),
        (None, True, "full", "transformers", "--adapter full"),
    ],
)
def test_auto_chooses_vllm_where_it_is_installed_and_faster(monkeypatch, problem, gpu, adapter, chosen, because):
    monkeypatch.setattr(backends, "vllm_problem", lambda: problem)
    monkeypatch.setattr(backends, "on_gpu", lambda: gpu)
    config = RunConfig(goal="write small python functions")
    config.training.adapter = adapter
    name, reason = choose_backend(config)
    assert name == chosen and because in reason, reason


def test_a_run_says_which_backend_auto_chose(finished_run):
    config = json.loads((finished_run / "run.json").read_text())["config"]["inference"]
    assert config["backend"] in ("transformers", "vllm") and config["backend_choice"].startswith(config["backend"])
    assert f"inference backend: {config['backend_choice']}" in (finished_run / "run.log").read_text()


def test_a_released_adapter_leaves_the_server(tmp_path):
    adapter = tmp_path / "round-2"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "base"}))
    with ScriptedChatServer([]) as server:
        gen = ServerGenerator(str(adapter), base_url=server.url, served_model="base")
        gen.load_adapter()
        gen.release()
        gen.release()  # once is enough
    name = adapter_name(str(adapter))
    assert [a["lora_name"] for a in server.adapters] == [name]
    assert server.unloaded == [{"lora_name": name}]


@pytest.mark.parametrize("owner", ["vllm", "someone-else"])
def test_only_a_vllm_server_is_sent_vllm_fields(owner):
    reply = "```python\nprint(1)\n```\nand more words"
    with ScriptedChatServer([], plain={"content": reply}, owner=owner) as server:
        gen = ServerGenerator("base", base_url=server.url, served_model="base")
        answers = gen.complete(["q1", "q2"], SamplingParams(n=1, max_new_tokens=32))
    assert answers == [["```python\nprint(1)\n```"]] * 2  # cut after the first code block either way
    sent = [(r.get("stop"), r.get("include_stop_str_in_output")) for r in server.requests]
    assert sent == ([(["\n```\n"], True)] * 2 if owner == "vllm" else [(None, None)] * 2)
