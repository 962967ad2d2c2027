"""The LLM planner, task writer and critic, through the real `openai` client against `chat_server`, a local server
whose replies are SCRIPTED (there is no model behind it): tool calls, malformed calls, refusals, timeouts and
dropped connections. The whole graph runs with the tiny model; only the planner's and critic's words are scripted.
"""

from __future__ import annotations

import json
import re
import socket
import zlib

import pytest
from chat_server import ScriptedChatServer
from conftest import tiny_run_args
from conftest import trace_of as trace

from autodidact.agent.cli import main
from autodidact.tools.backends import adapter_name
from autodidact.tools.chat import ChatError, OpenAIChat

TRIPLE = {
    "prompt": "Write a Python function `triple(x)` that returns three times x. For example, `triple(2)` should "
    "return `6`. Reply with the complete function in one ```python code block.",
    "entry_point": "triple",
    "tests": ["assert triple(2) == 6", "assert triple(-3) == -9"],
    "reference": "def triple(x):\n    return 3 * x\n",
}
WEAK = {  # its tests pass a function that returns None
    "prompt": "Write a Python function `nothing(x)` that returns None.",
    "entry_point": "nothing",
    "tests": ["assert nothing(1) is None"],
    "reference": "def nothing(x):\n    return None\n",
}
PLAN = {"family": "python-functions", "levels": [1], "tasks": 48, "samples_per_task": 4, "trainer": "sft",
        "reason": "practise level 1"}  # fmt: skip
CRITIQUE = "The function returns the wrong value for some inputs; check each case of the spec."


def decisions(t: dict, stage: str) -> list[dict]:
    return [d for d in t["decisions"] if d["stage"] == stage]


def test_an_llm_planner_plans_writes_tasks_and_critiques_through_tool_calls(warm_model, tmp_path, capsys):
    script = [
        {"tool_calls": [("list_task_families", {}), ("write_task", TRIPLE)]},
        {"tool_calls": [("write_task", WEAK), ("plan_round", '{"family": "python-functions", "levels": [1')]},
        {"tool_calls": [("plan_round", {**PLAN, "levels": [9]})]},
        {"tool_calls": [("plan_round", PLAN)]},
        {"tool_calls": [("plan_round", {"family": "written", "levels": [1], "tasks": 1, "reason": "the new task"})]},
    ]
    run_dir = tmp_path / "run"
    with ScriptedChatServer(script, plain={"content": CRITIQUE}) as server:
        args = ["--planner", "llm", "--planner-model", "scripted", "--planner-base-url", server.url,
                "--critic", "llm"]  # fmt: skip
        assert main(tiny_run_args(warm_model, run_dir, *args)) == 0
    t = trace(run_dir, capsys)
    assert t["status"] == "finished"
    plans = decisions(t, "plan")
    calls = [(c["name"], c["verdict"]) for c in plans[0]["numbers"]["tool_calls"]]
    assert calls == [
        ("list_task_families", "accepted"),
        ("write_task", "accepted"),
        ("write_task", "rejected"),
        ("plan_round", "rejected"),
        ("plan_round", "rejected"),
        ("plan_round", "accepted"),
    ]
    reasons = [c["reason"] for c in plans[0]["numbers"]["tool_calls"]]
    assert "trivial wrong solution" in reasons[2]
    assert "not valid JSON" in reasons[3] and "not levels of python-functions" in reasons[4]
    assert plans[0]["numbers"]["fallback"] is None and plans[0]["route"] == "acquire"
    assert t["rounds"][0]["plan"]["trainer"] == "sft" and t["rounds"][0]["method"] == "sft"

    # The admitted task is stored with its provenance, and round 2 practised it.
    written = [json.loads(line) for line in (run_dir / "tasks" / "written.jsonl").read_text().splitlines()]
    assert [w["entry_point"] for w in written] == ["triple"]
    assert written[0]["provenance"] == {**written[0]["provenance"], "round": 1, "planner": "llm", "model": "scripted"}
    assert t["rounds"][1]["plan"]["family"] == "written"
    attempts = [json.loads(x) for x in (run_dir / t["rounds"][1]["files"]["attempts"]).read_text().splitlines()]
    assert attempts and {a["task_id"] for a in attempts} == {"written-" + written[0]["task_id"]}

    # What the planner was sent: the goal, the tools with their schemas, and an answer to every call it made.
    first = server.requests[0]
    assert "write small python functions" in first["messages"][0]["content"]
    tools = {tool["function"]["name"]: tool["function"] for tool in first["tools"]}
    assert {"plan_round", "stop_run", "write_task", "probe_levels", "run_python"} <= set(tools)
    assert "samples_per_task" in tools["plan_round"]["parameters"]["properties"]
    second = [r for r in server.requests if r.get("tools")][1]
    answered = [m["tool_call_id"] for m in second["messages"] if m["role"] == "tool"]
    assert answered == ["call_0", "call_1"]

    # The critic's critiques went into the repair prompts, and the trace shows critique, repair and verdict.
    repairs = [json.loads(x) for x in (run_dir / t["rounds"][0]["files"]["repairs"]).read_text().splitlines()]
    assert repairs and all(r["critique"] == CRITIQUE for r in repairs)
    assert t["rounds"][0]["critic"]["critiques"] == len(repairs)
    capsys.readouterr()
    assert main(["trace", str(run_dir), "--round", "1", "--stage", "refine"]) == 0
    shown = capsys.readouterr().out
    assert shown.index("\n  feedback:") < shown.index("\n  critique:") < shown.index("\n  completion:")
    assert main(["trace", str(run_dir)]) == 0
    text = capsys.readouterr().out
    assert "round 1 planner (llm):" in text and "plan_round -> rejected: levels [9]" in text


def test_a_planner_that_times_out_drops_the_connection_or_refuses_falls_back_each_round(warm_model, tmp_path, capsys):
    script = [{"sleep": 20}, {"drop": True}, {"content": "Sorry, I can't help with planning."}]
    run_dir = tmp_path / "run"
    with ScriptedChatServer(script) as server:
        args = ["--planner", "llm", "--planner-model", "scripted", "--planner-base-url", server.url,
                "--planner-timeout", "1", "--tasks-per-round", "8", "--samples", "2", "--patience", "5"]  # fmt: skip
        assert main(tiny_run_args(warm_model, run_dir, *args, rounds=3)) == 0
    t = trace(run_dir, capsys)
    assert t["status"] == "finished" and [r["round"] for r in t["rounds"]] == [1, 2, 3]
    fallbacks = [d["numbers"]["fallback"] for d in decisions(t, "plan")[:3]]
    assert [f["kind"] for f in fallbacks] == ["timeout", "down", "no_tool_call"]
    assert "can't help" in fallbacks[2]["reason"]
    for d, record in zip(decisions(t, "plan"), t["rounds"], strict=False):
        # The curriculum planned instead, through the same plan_round tool, and the gate accepted it.
        assert d["numbers"]["tool_calls"] == [{"name": "plan_round", "verdict": "accepted", "reason": "ok"}]
        assert record["planner"]["calls"][0]["by"] == "curriculum"


def test_a_planner_server_that_is_down_and_the_model_as_its_own_planner_and_critic(warm_model, tmp_path, capsys):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    small = ["--tasks-per-round", "8", "--samples", "2"]
    down = tmp_path / "down"
    args = ["--planner", "llm", "--planner-model", "m", "--planner-base-url", f"http://127.0.0.1:{port}/v1", *small]
    assert main(tiny_run_args(warm_model, down, *args, rounds=1)) == 0
    assert decisions(trace(down, capsys), "plan")[0]["numbers"]["fallback"]["kind"] == "down"

    own = tmp_path / "self"
    assert main(tiny_run_args(warm_model, own, "--planner", "self", "--critic", "self", *small, rounds=1)) == 0
    t = trace(own, capsys)
    first = decisions(t, "plan")[0]["numbers"]
    assert first["planner"] == "self" and first["fallback"]["kind"] in ("no_tool_call", "no_plan")
    transcript = own / t["rounds"][0]["planner"]["transcript"]
    assert transcript.exists() and "write small python functions" in transcript.read_text()


def test_chat_errors_say_which_failure_it_was():
    with ScriptedChatServer([{"sleep": 20}, {"drop": True}]) as server:
        chat = OpenAIChat(server.url, "m", timeout_s=0.5)
        tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}]
        for kind in ("timeout", "down"):
            with pytest.raises(ChatError) as caught:
                chat.chat([{"role": "user", "content": "hi"}], tools)
            assert caught.value.kind == kind
        reply = chat.chat([{"role": "user", "content": "hi"}], tools)
        assert reply.text == "I have nothing more to add." and not reply.tool_calls


def test_the_planner_options_are_checked_before_anything_is_written(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["run", "write small python functions", "--planner", "llm", "--run-dir", str(run_dir)]) == 2
    assert "--planner-model" in capsys.readouterr().err
    assert main(["run", "write small python functions", "--backend", "openai", "--run-dir", str(run_dir)]) == 2
    assert "--backend-url" in capsys.readouterr().err
    assert not run_dir.exists()


def arithmetic_replies(base_name: str):
    """Scripted sampling for the openai backend on arithmetic tasks (the replies are computed, not generated): the
    starting model (`base_name`) answers a third of the questions right, the round-1 adapter those and four in five of
    the rest, any later adapter all of them. Which questions is fixed by a stable hash of the question."""

    def reply(body: dict) -> dict:
        question = body["messages"][-1]["content"]
        match = re.match(r"What is ([-+* 0-9()]+)\?", question)
        if not match:
            return {"content": "Answer: 0"}
        value = eval(match.group(1), {"__builtins__": {}})  # digits and + - * only (the regex above)
        bucket = zlib.crc32(question.encode())
        if body["model"] == base_name:
            right = bucket % 3 == 0
        else:
            right = not body["model"].startswith("round-1-") or bucket % 3 == 0 or bucket % 5 != 0
        return {"content": f"Answer: {value if right else value + 1}"}

    return reply


def test_the_openai_backend_samples_from_the_server_and_serves_each_adapter_it_trains(warm_model, tmp_path, capsys):
    run_dir = tmp_path / "run"
    with ScriptedChatServer([], plain=arithmetic_replies("base")) as server:
        args = ["--tasks", "arithmetic", "--backend", "openai", "--backend-url", server.url, "--backend-model", "base"]
        assert main(tiny_run_args(warm_model, run_dir, *args)) == 0
    t = trace(run_dir, capsys)
    assert t["status"] == "finished" and t["rounds"][0]["promoted"], t["decisions"]
    round1 = (run_dir / "models" / "round-1").resolve()
    assert (round1 / "adapter_config.json").is_file(), "the backend trains LoRA adapters"
    name = adapter_name(str(round1))
    assert {"lora_name": name, "lora_path": str(round1)} in server.adapters
    asked = [r["model"] for r in server.requests]
    assert asked[0] == "base" and name in asked
    # Round 2 sampled from the promoted adapter, trained it on, and its candidate is again one adapter over the base.
    assert t["rounds"][1]["parent"] == "models/round-1" and t["rounds"][1]["checkpoint"], t["decisions"]
    config = json.loads((run_dir / "models" / "round-2" / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(warm_model)
    assert adapter_name(str((run_dir / "models" / "round-2").resolve())) in asked
    assert "serves the champion as " + name in (run_dir / "run.log").read_text()
    assert t["usage"]["tokens"] > 0


def test_the_loop_steps_are_agent_tools_with_typed_schemas():
    from autodidact.tools import agent_tools
    from autodidact.tools.tasks import get_family

    tools = {tool.name: tool for tool, _ in agent_tools()}
    assert {"list_task_families", "generate_tasks", "sample_attempts", "verify_answer", "run_python",
            "train_sft", "train_dpo", "train_grpo"} <= set(tools)  # fmt: skip
    assert "written" not in {f["name"] for f in tools["list_task_families"].invoke({})}
    shown = tools["generate_tasks"].invoke({"family": "python-functions", "n": 3, "seed": 5})
    assert len(shown) == 3 and set(shown[0]) == {"index", "prompt", "difficulty"}  # no hidden tests
    task = get_family("python-functions").generate(split="train", difficulty=1, n=3, seed=5)[2]
    assert task.prompt == shown[2]["prompt"]
    right = f"```python\n{task.reference}\n```"
    ref = {"family": "python-functions", "seed": 5, "index": 2}
    assert tools["verify_answer"].invoke({**ref, "reply": right})["passed"] is True
    wrong = f"```python\ndef {task.entry_point}(*a):\n    return None\n```"
    assert tools["verify_answer"].invoke({**ref, "reply": wrong})["passed"] is False
    with pytest.raises(Exception, match="index"):
        tools["verify_answer"].invoke({"family": "python-functions", "reply": right})


def test_a_plugin_tool_is_offered_to_the_planner_and_its_call_is_judged_and_traced(warm_model, tmp_path, capsys):
    from pathlib import Path

    from autodidact import plugins

    example = Path(__file__).parent.parent / "examples" / "autodidact-example-plugin" / "autodidact_example"
    script = [
        {"tool_calls": [("count_multiples", {"xs": [3, 6, 7, 9], "k": 3}), ("count_multiples", {"xs": "no"})]},
        {"tool_calls": [("plan_round", PLAN)]},
    ]
    run_dir = tmp_path / "run"
    try:
        with ScriptedChatServer(script) as server:
            args = ["--planner", "llm", "--planner-model", "scripted", "--planner-base-url", server.url,
                    "--plugin", str(example / "__init__.py")]  # fmt: skip
            assert main(tiny_run_args(warm_model, run_dir, *args, rounds=1)) == 0
    finally:
        plugins._files.clear()
        plugins._found.clear()
    offered = {tool["function"]["name"] for tool in server.requests[0]["tools"]}
    assert "count_multiples" in offered and "plan_round" in offered
    assert not any(name.startswith("train_") for name in offered)  # training is the run's stage, not a call
    capsys.readouterr()
    assert main(["trace", str(run_dir), "--round", "1", "--stage", "plan", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    calls = [r for r in rows if r.get("name") == "count_multiples"]
    assert calls[0]["verdict"] == "accepted" and calls[0]["arguments"] == {"xs": [3, 6, 7, 9], "k": 3}
    assert calls[0]["result"] == "3"
    assert calls[1]["verdict"] == "rejected" and "invalid arguments" in calls[1]["reason"]
    assert main(["trace", str(run_dir), "--round", "1", "--stage", "plan"]) == 0
    assert "count_multiples" in capsys.readouterr().out
