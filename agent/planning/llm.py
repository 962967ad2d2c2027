"""The LLM planner: a chat model with tool calling decides the next round through the planner's tools.

It is shown the goal, the run's task families and the rounds so far (metrics and the gate's decisions), and
replies with tool calls (`desk.py`), which are run, judged and answered, until it calls `plan_round` or
`stop_run` (at most `planner_turns` replies). Whatever keeps it from a plan (the server times out, is down or
answers with an error; a reply without a tool call, such as a refusal; only refused calls) is recorded as the
round's fallback, and the curriculum planner plans that round instead. The conversation is kept in the round's
folder (`planner.jsonl`).
"""

from __future__ import annotations

import json
from typing import Any

from ...prompts import render
from ...tools.chat import ChatError, ChatModel
from ..context import RunContext
from ..rundir import write_jsonl
from ..state import RunState
from .curriculum import Plan
from .desk import PlannerDesk


def first_message(desk: PlannerDesk) -> list[dict[str, Any]]:
    cfg = desk.ctx.config
    families = "\n".join(
        f"- {f['name']}: {f['description']} (levels {f['levels']}; trainers {', '.join(f['trainers'])})"
        for f in desk.list_task_families()
    )
    history = desk.run_history()[0]
    shown = "\n".join(json.dumps(r) for r in history["rounds"]) or "(none yet)"
    if history["gate_decisions"]:
        shown += "\nThe gate's decisions that were not forward:\n" + "\n".join(history["gate_decisions"])
    return [
        {"role": "system", "content": render("planner", goal=cfg.goal, tasks_per_round=cfg.sampling.tasks_per_round)},
        {
            "role": "user",
            "content": render(
                "planner_round", round=desk.round_no, rounds=cfg.budget.rounds, families=families, history=shown
            ),
        },
    ]


def plan_with_llm(ctx: RunContext, state: RunState, round_no: int, desk: PlannerDesk) -> tuple[Plan | None, dict]:
    """The chat model's plan for round `round_no` (None when it fell back), and the record of how it went."""
    cfg = ctx.config
    record: dict[str, Any] = {"kind": cfg.agent.planner, "model": None, "turns": 0, "fallback": None}
    messages = first_message(desk)
    try:
        chat: ChatModel = ctx.chat_model(
            cfg.agent.planner, cfg.agent.planner_model, cfg.agent.planner_base_url, state["champion"]
        )
        record["model"] = desk.author = chat.name
        tools = desk.openai_tools()
        for turn in range(1, cfg.agent.planner_turns + 1):
            reply = chat.chat(messages, tools)
            record["turns"] = turn
            messages.append(reply.as_message())
            if not reply.tool_calls:
                said = " ".join(reply.text.split())[:160]
                why = f"the planner replied without a tool call: {said!r}"
                record["fallback"] = {"kind": "no_tool_call", "reason": why}
                break
            for call in reply.tool_calls:
                answer = desk.call(call.name, call.arguments, turn)
                messages.append({"role": "tool", "tool_call_id": call.id, "name": call.name, "content": answer})
                if desk.plan is not None:
                    break
            if desk.plan is not None:
                break
        else:
            refused = sum(c["verdict"] == "rejected" for c in desk.calls)
            record["fallback"] = {
                "kind": "no_plan",
                "reason": f"no accepted plan_round or stop_run in {cfg.agent.planner_turns} replies ({refused} calls refused)",
            }
    except ChatError as exc:
        record["fallback"] = {"kind": exc.kind, "reason": str(exc)}
    except Exception as exc:  # a planner that cannot even start (a model that will not load) must not end the run
        record["fallback"] = {"kind": "error", "reason": f"{type(exc).__name__}: {exc}"}
    transcript = ctx.run.round_file(round_no, "planner")
    write_jsonl(transcript, messages)
    record["transcript"] = ctx.run.relative(transcript)
    return (desk.plan if record["fallback"] is None else None), record
