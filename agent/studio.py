"""The run as LangGraph Studio starts it (`langgraph.json` at the repository root points here).

`langgraph dev` serves this graph; a thread started with `{"goal": "..."}` (optionally `settings`, by field name or
SECTION.FIELD as `--set` takes them, and `run_dir`) goes through the same run start as `autodidact run`:

    START -> start_run -> improve -> END

- `start_run` checks the goal and settings (`agent.run.configure`) and creates the run directory (`create_run`):
  its run.json, held-out and guard sets and champion pointer. The directory is `run_dir`, else one under
  `AUTODIDACT_RUNS` (default `runs/`), named as the CLI names it.
- `improve` runs the loop graph on it with the run directory's own SQLite checkpointer (`agent.run.execute`),
  streaming each progress line as a custom event, and ends with the run's table and status. A thread whose run
  stopped part-way resumes the run when it is run again.

So `autodidact trace RUN_DIR`, `report` and `resume` read a run started here like any other. Studio shows these
two steps; the loop's node-by-node history, with the gate's decisions, is `autodidact trace RUN_DIR`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypedDict

from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph

# Absolute imports: langgraph's loader runs this file as a script, not as part of its package.
from autodidact.agent.errors import UserError
from autodidact.agent.run import configure, create_run, default_run_dir, execute, open_run
from autodidact.agent.rundir import RunDir


class StudioInput(TypedDict, total=False):
    goal: str
    """What to get better at, as `autodidact run GOAL` takes it."""
    settings: dict[str, Any]
    """Config settings by name, e.g. {"budget.rounds": 1, "sampling.samples_per_task": 8}."""
    run_dir: str
    """Where the run lives (default: a new directory under AUTODIDACT_RUNS, or runs/)."""


class StudioState(StudioInput, total=False):
    status: str
    """finished, awaiting approval, or the error that stopped the start."""
    table: str
    """The run's final table, as `autodidact run` prints it."""
    champion: str


def start_run(state: StudioState) -> dict[str, Any]:
    given = state.get("run_dir")
    if given and RunDir.is_run(Path(given)):
        return {}  # a thread run again: the run is already there, `improve` resumes it
    try:
        config = configure(state["goal"], state.get("settings") or {})
        default = Path(os.environ.get("AUTODIDACT_RUNS", "runs")) / default_run_dir(config.goal).name
        ctx, _ = create_run(Path(given) if given else default, config)
    except UserError as exc:
        return {"status": f"error: {exc}"}
    ctx.close()
    return {"run_dir": str(ctx.run.path)}


def improve(state: StudioState) -> dict[str, Any]:
    from autodidact.agent.graph import THREAD, compile_graph
    from autodidact.agent.state import initial_state
    from autodidact.agent.trace import format_table

    if str(state.get("status", "")).startswith("error"):
        return {}
    ctx = open_run(Path(state["run_dir"]), started=False)
    writer = get_stream_writer()
    ctx.echo = lambda line: writer({"log": line})
    fresh = not compile_graph(ctx).get_state(THREAD).values
    initial = dict(initial_state(ctx.config.goal, ctx.run.store().champion() or ctx.config.model)) if fresh else None
    trace = execute(ctx, initial, "studio")
    status = "awaiting approval" if trace["awaiting"] else str(trace["status"])
    return {"status": status, "table": format_table(trace), "champion": trace["champion"]}


def make_graph() -> Any:
    from autodidact.agent.cli import quiet_libraries

    quiet_libraries()  # the run's own progress lines say what happens; the libraries' per-file bars only clutter
    graph = StateGraph(StudioState, input_schema=StudioInput)
    graph.add_node("start_run", start_run)
    graph.add_node("improve", improve)
    graph.add_edge(START, "start_run")
    graph.add_edge("start_run", "improve")
    graph.add_edge("improve", END)
    return graph.compile()


graph = make_graph()
