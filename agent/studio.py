"""The graph as LangGraph's tooling loads it (`langgraph.json` at the repository root points here).

`langgraph dev` serves the graph with its own in-memory checkpointer, and LangGraph Studio draws and runs it.
The nodes need a run directory for their files: `AUTODIDACT_RUN_DIR` names one (default `runs/studio`), with
the configuration in its `run.json` when it has one, else the defaults for the goal in `AUTODIDACT_GOAL`.
"""

from __future__ import annotations

import os
from pathlib import Path

# Absolute imports: langgraph's loader runs this file as a script, not as part of its package.
from autodidact.agent.config import RunConfig
from autodidact.agent.context import RunContext
from autodidact.agent.graph import build_graph
from autodidact.agent.rundir import RunDir


def make_graph() -> object:
    path = Path(os.environ.get("AUTODIDACT_RUN_DIR", "runs/studio"))
    goal = os.environ.get("AUTODIDACT_GOAL", "get better at writing small Python functions")
    run = RunDir(path)
    config = run.config() if (path / "run.json").is_file() else RunConfig(goal=goal)
    return build_graph(RunContext(config=config, run=run, quiet=True)).compile()


graph = make_graph()
