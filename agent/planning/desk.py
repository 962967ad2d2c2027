"""The planner's tools: LangChain tools with typed schemas, bound to the run, that both planners call.

| tool | what it does |
|---|---|
| `list_task_families` | the run's task families: description, levels, trainers (and the written tasks so far) |
| `run_history` | every finished round: plan, data counts, held-out pass@1, promoted or not, and why |
| `probe_levels` | the champion's greedy accuracy on fresh practice tasks per level (never held-out tasks) |
| `run_python` | run a program in the run's sandbox |
| `write_task` | propose a practice task (spec, tests, reference); admitted only after the checks of `tools.tasks.written` and a near-duplicate check against the held-out, guard and admitted tasks |
| `plan_round` | the next round: family, levels, tasks, samples per task, trainer (ends the planner's turn) |
| `stop_run` | end the run (ends the planner's turn) |

Every tool registered in the `autodidact.tools` entry point group (built-in or a plugin's) is offered too, unless
it declares itself not for planning (`tools.NOT_FOR_PLANNING` in its metadata) or has the name of one above.

`PlannerDesk.call` runs one call as the model wrote it: the arguments are parsed and validated against the
tool's schema, the gate's criterion for plans (`check_plan`) judges a plan, and every call is recorded with the verdict
(`accepted` or `rejected`) and the reason. The curriculum planner files its decision through the same
`plan_round` call, so both planners' plans pass the same checks.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, Field, ValidationError

from ...sandbox import Limits
from ...tools import agent_tools, for_planning
from ...tools.tasks.written import Written, check_task, written_task
from ...trainers import TRAINERS
from ..config import RunConfig
from ..context import RunContext
from ..decontaminate import Decontaminator
from ..rundir import read_jsonl, write_jsonl
from ..state import RunState
from ..transfer import protected_tasks
from .curriculum import Plan, share
from .probe import measure_levels

RESULT_CHARS = 2000
TERMINAL = ("plan_round", "stop_run")
TOOL_NAMES = ("list_task_families", "run_history", "probe_levels", "run_python", "write_task", *TERMINAL)


MAX_SAMPLES = 16


def check_plan(
    plan: dict[str, Any], levels_of: dict[str, tuple[int, ...]], config: RunConfig, max_tasks: int | None = None
) -> str | None:
    """The gate's criterion for a plan. Why a proposed plan (from either planner's `plan_round` call) is refused, or None. A plan must name a task
    family of the run with levels it has, 1 to `max_tasks` tasks in all (the round's size under the budget,
    default `tasks_per_round`; at least one per level), 1 to `MAX_SAMPLES` samples per task, and `auto` or a
    registered trainer."""
    max_tasks = max_tasks or config.sampling.tasks_per_round
    family = plan["family"]
    if family not in levels_of:
        return f"unknown task family {family!r}; this run's families: {', '.join(levels_of)}"
    wrong = [lvl for lvl in plan["levels"] if lvl not in levels_of[family]]
    if not plan["levels"] or wrong:
        known = ", ".join(map(str, levels_of[family])) or "none yet"
        return f"levels {plan['levels']} are not levels of {family} (its levels: {known})"
    counts = plan["tasks_per_level"]
    if set(counts) != set(plan["levels"]) or min(counts.values()) < 1:
        return "every chosen level needs at least one task"
    if sum(counts.values()) > max_tasks:
        return f"{sum(counts.values())} tasks is more than this round's {max_tasks}"
    if not 1 <= plan["samples_per_task"] <= MAX_SAMPLES:
        return f"samples_per_task must be 1-{MAX_SAMPLES}, not {plan['samples_per_task']}"
    if plan["trainer"] != "auto" and plan["trainer"] not in TRAINERS:
        return f"trainer {plan['trainer']!r}: choose auto or one of {', '.join(TRAINERS)}"
    return None


class Rejected(Exception):
    """The gate refuses a tool call; the message says why (and is shown to the model)."""


class FamilyArgs(BaseModel):
    family: str = Field(description="A task family of this run (see list_task_families).")
    levels: list[int] = Field(description="Difficulty levels to measure.")


class PythonArgs(BaseModel):
    code: str = Field(description="A complete Python program; what it prints comes back.")


class TaskArgs(BaseModel):
    prompt: str = Field(description="The task as the model will see it: what function to write, with an example.")
    entry_point: str = Field(description="The name of the function the task asks for.")
    tests: list[str] = Field(description="Assert statements that call the function, e.g. 'assert f(2) == 4'.")
    reference: str = Field(description="A correct solution: the complete function definition.")
    difficulty: int = Field(default=1, ge=1, le=5, description="How hard the task is, 1 (easiest) to 5.")


class PlanArgs(BaseModel):
    family: str = Field(description="The task family to practise.")
    levels: list[int] = Field(description="The difficulty levels to practise.")
    tasks: int | None = Field(default=None, description="Practice tasks in all, shared evenly over the levels.")
    tasks_per_level: dict[int, int] | None = Field(default=None, description="Tasks per level (instead of `tasks`).")
    samples_per_task: int | None = Field(default=None, description=f"Attempts per task, 1-{MAX_SAMPLES}.")
    trainer: str = Field(default="auto", description="sft, dpo, grpo, or auto (chosen from the round's data).")
    reason: str = Field(default="", description="Why this plan, in one sentence.")


class StopArgs(BaseModel):
    reason: str = Field(description="Why more rounds would not help.")


class NoArgs(BaseModel):
    pass


@dataclass
class PlannerDesk:
    """The tools of one round's planning, and the record of the calls made to them."""

    ctx: RunContext
    state: RunState
    round_no: int
    calls: list[dict[str, Any]] = field(default_factory=list)
    author: str = "curriculum"
    """Who plans: recorded as the provenance of written tasks."""
    plan: Plan | None = None
    written: int = 0
    max_tasks: int | None = None
    """The round's size under the wall budget (`budget.py`); None: the configured tasks per round."""

    # -- the tools -------------------------------------------------------------------------------------
    @cached_property
    def tools(self) -> dict[str, BaseTool]:
        """The tools by name (made once per round's desk): the desk's own, then the registered ones."""
        own: dict[str, BaseTool] = {tool.name: tool for tool in self._make_tools()}
        registered = {tool.name: tool for tool, _ in agent_tools() if for_planning(tool) and tool.name not in own}
        return {**own, **registered}

    def _make_tools(self) -> list[StructuredTool]:
        def make(fn: Any, schema: type[BaseModel], description: str) -> StructuredTool:
            return StructuredTool.from_function(func=fn, name=fn.__name__, description=description, args_schema=schema)

        return [
            make(self.list_task_families, NoArgs, "List this run's task families: description, levels, trainers."),
            make(self.run_history, NoArgs, "Every finished round: plan, data, held-out pass@1, promoted or not."),
            make(self.probe_levels, FamilyArgs, "Measure the champion's accuracy per level on fresh practice tasks."),
            make(self.run_python, PythonArgs, "Run a Python program in the sandbox and see what it printed."),
            make(
                self.write_task,
                TaskArgs,
                "Propose a new practice task. It is admitted only if the reference passes the tests in the sandbox, "
                "the tests fail trivial wrong solutions, and it is not a near duplicate of a known task.",
            ),
            make(self.plan_round, PlanArgs, "Decide the next round. Ends your turn."),
            make(self.stop_run, StopArgs, "End the run because more practice will not help. Ends your turn."),
        ]

    def openai_tools(self) -> list[dict[str, Any]]:
        return [convert_to_openai_tool(t) for t in self.tools.values()]

    def families(self) -> dict[str, Any]:
        names = list(self.ctx.config.tasks.families)
        if self.ctx.family(Written.name).path:  # once a task is admitted
            names.append(Written.name)
        return {name: self.ctx.family(name) for name in names}

    def levels_of(self, name: str) -> tuple[int, ...]:
        family = self.ctx.family(name)
        if name == Written.name:
            return family.levels if family.path else ()
        configured = self.ctx.config.tasks.levels
        return tuple(lvl for lvl in family.levels if not configured or lvl in configured)

    def list_task_families(self) -> list[dict[str, Any]]:
        return [
            {
                "name": name,
                "description": f.description,
                "levels": list(self.levels_of(name)),
                "trainers": list(f.trainers),
            }
            for name, f in self.families().items()
        ]

    def run_history(self) -> list[dict[str, Any]]:
        rounds = []
        for record in self.state.get("history", []):
            ev = record.get("eval") or {}
            rounds.append(
                {
                    "round": record["round"],
                    "family": record["plan"]["family"],
                    "levels": record["plan"]["levels"],
                    "method": record.get("method"),
                    "counts": record["counts"],
                    "heldout_pass1": [ev.get("champion_pass1"), ev.get("candidate_pass1")] if ev else None,
                    "p_value": ev.get("p_value"),
                    "promoted": record["promoted"],
                }
            )
        reasons = [
            f"round {d['round']} {d['stage']}: {d['verdict']} ({d['reason']})"
            for d in self.state.get("decisions", [])
            if d["verdict"] != "forward"
        ]
        return [{"rounds": rounds, "gate_decisions": reasons}]

    def probe_levels(self, family: str, levels: list[int]) -> dict[str, Any]:
        known = self.levels_of(family) if family in self.families() else ()
        if not known or not levels or not set(levels) <= set(known):
            raise Rejected(f"{family} levels {levels}: choose levels among {list(known) or 'none'}")
        stats = measure_levels(
            self.ctx,
            self.ctx.family(family),
            tuple(levels),
            self.state["champion"],
            self.round_no,
            self.ctx.config.curriculum.frontier_probe,
        )
        return {f"L{k}": {"accuracy": round(v[0] / v[1], 3), "tried": v[1]} for k, v in sorted(stats.items())}

    def run_python(self, code: str) -> dict[str, Any]:
        result = self.ctx.sandbox.run(code, limits=Limits(cpu_s=5, wall_s=10))
        return {
            "stdout": result.stdout[-1000:],
            "stderr": result.stderr[-1000:],
            "exit_code": result.exit_code,
            "stopped": result.stopped,
        }

    def write_task(self, prompt: str, entry_point: str, tests: list[str], reference: str, difficulty: int = 1) -> str:
        cfg = self.ctx.config
        if self.written >= cfg.agent.max_written_tasks:
            raise Rejected(f"at most {cfg.agent.max_written_tasks} tasks may be written per round")
        if not entry_point.isidentifier() or not tests or not reference.strip() or not prompt.strip():
            raise Rejected("a task needs a prompt, a function name, at least one assert and a reference")
        row = {
            "prompt": prompt.strip(),
            "entry_point": entry_point,
            "test_list": tests,
            "reference": reference,
            "difficulty": difficulty,
        }
        task = written_task(row)
        admitted = self.ctx.family(Written.name).tasks
        protected = self.ctx.heldout() + self.ctx.guard_candidates() + admitted
        near = Decontaminator(
            protected, threshold=cfg.selection.decontamination_threshold, external=protected_tasks(self.ctx)
        ).overlap(task, task.reference)
        if near:
            raise Rejected(f"a near duplicate of a held-out, guard or admitted task ({near})")
        problems = check_task(task, self.ctx.sandbox)
        if problems:
            raise Rejected("; ".join(problems))
        provenance = {
            "round": self.round_no,
            "planner": self.ctx.config.agent.planner,
            "model": self.author,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        path = self.ctx.run.written_file
        row = {"task_id": task.id.removeprefix("written-"), **row, "split": "train", "provenance": provenance}
        write_jsonl(path, [*(read_jsonl(path) if path.exists() else []), row])
        self.ctx.forget_family(Written.name)
        self.written += 1
        return f"admitted as {task.id} (difficulty {difficulty}); plan_round can now use the family `written`"

    def plan_round(
        self,
        family: str,
        levels: list[int],
        tasks: int | None = None,
        tasks_per_level: dict[int, int] | None = None,
        samples_per_task: int | None = None,
        trainer: str = "auto",
        reason: str = "",
    ) -> str:
        cfg = self.ctx.config
        levels = sorted(set(levels))
        counts = (
            dict(tasks_per_level)
            if tasks_per_level
            else share(tasks or self.max_tasks or cfg.sampling.tasks_per_round, levels)
        )
        proposal: dict[str, Any] = {
            "family": family,
            "levels": levels,
            "tasks_per_level": counts,
            "samples_per_task": samples_per_task or cfg.sampling.samples_per_task,
            "trainer": trainer,
        }
        families = self.families()
        why = check_plan(proposal, {name: self.levels_of(name) for name in families}, cfg, self.max_tasks)
        if why:
            raise Rejected(why)
        self.plan = Plan(
            round=self.round_no,
            family=family,
            levels=sorted(counts),
            tasks_per_level=counts,
            samples_per_task=proposal["samples_per_task"],
            trainer=trainer,
            stop=False,
            reason=reason or "planned",
        )
        return f"round {self.round_no} planned: {sum(counts.values())} {family} tasks at levels {sorted(counts)}"

    def stop_run(self, reason: str) -> str:
        self.plan = Plan(
            round=self.round_no,
            family=self.ctx.config.tasks.families[0],
            levels=[],
            tasks_per_level={},
            samples_per_task=0,
            trainer=self.ctx.config.training.trainer,
            stop=True,
            reason=f"the planner stopped the run: {reason}",
        )
        return "the run will stop"

    # -- calling them ----------------------------------------------------------------------------------
    def call(self, name: str, arguments: str | dict[str, Any], turn: int = 0) -> str:
        """Run one tool call as written; record it with the gate's verdict; return what the model is told."""
        record: dict[str, Any] = {"turn": turn, "by": self.author, "name": name, "arguments": arguments}
        try:
            tool = self.tools.get(name)
            if tool is None:
                raise Rejected(f"unknown tool {name!r}; the tools are {', '.join(self.tools)}")
            args = _parse(arguments)
            record["arguments"] = args
            schema: Any = tool.get_input_schema()
            valid = schema.model_validate(args).model_dump(exclude_unset=True)
            # The desk's own tools are its methods; a registered tool runs as LangChain runs it.
            result = getattr(self, name)(**valid) if name in TOOL_NAMES else tool.invoke(valid)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(map(str, first["loc"])) or "arguments"
            return self._record(record, "rejected", f"invalid arguments: {where}: {first['msg']}")
        except Rejected as exc:
            return self._record(record, "rejected", str(exc))
        except Exception as exc:  # a tool that fails is the call's verdict, not the run's end
            return self._record(record, "rejected", f"the tool failed: {type(exc).__name__}: {exc}")
        text = result if isinstance(result, str) else json.dumps(result)
        record["result"] = text[:RESULT_CHARS]
        return self._record(record, "accepted", "ok", text)

    def _record(self, record: dict[str, Any], verdict: str, reason: str, text: str | None = None) -> str:
        self.calls.append({**record, "verdict": verdict, "reason": reason})
        return (text if text is not None else f"rejected: {reason}")[:RESULT_CHARS]


def _parse(arguments: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(arguments, dict):
        return arguments
    try:
        parsed = json.loads(arguments or "{}")
    except json.JSONDecodeError as exc:
        raise Rejected(f"the arguments are not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(parsed, dict):
        raise Rejected("the arguments must be a JSON object")
    return parsed
