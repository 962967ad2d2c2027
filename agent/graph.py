"""The graph: wiring only. Nodes live in `nodes/`, the gate's criteria in `gate.py`.

    START -> plan -> gate -> acquire -> gate -> refine -> gate -> select -> gate -> train -> gate
          -> evaluate -> gate -> (promote | rollback | blend -> evaluate) -> plan ... -> END

A gate that finds a stage's result wanting routes to `rollback` (which closes the round) or ends the run.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph

from .context import RunContext
from .gate import ROUTES, gate_node, route
from .memory import GIVE_BACK_ABOVE_GB, give_back, in_use_gb, peak_gb, reset_peak
from .nodes.acquire import acquire
from .nodes.blend import blend
from .nodes.close import promote, rollback
from .nodes.evaluate import evaluate
from .nodes.plan import plan
from .nodes.refine import refine
from .nodes.select import select
from .nodes.train import train
from .state import RunState

NODES: dict[str, Callable[[RunState, RunContext], dict[str, Any]]] = {
    "plan": plan,
    "acquire": acquire,
    "refine": refine,
    "select": select,
    "train": train,
    "evaluate": evaluate,
    "blend": blend,
    "promote": promote,
    "rollback": rollback,
}
THREAD = {"configurable": {"thread_id": "run"}, "recursion_limit": 10_000}


def _spent(ctx: RunContext) -> dict[str, float]:
    return {
        "wall_s": time.monotonic(),
        "sandbox_s": ctx.usage["sandbox_s"],
        "tokens": ctx.tokens_generated(),
        "train_steps": ctx.usage["train_steps"],
    }


def _bind(
    fn: Callable[[RunState, RunContext], dict[str, Any]], ctx: RunContext
) -> Callable[[RunState], dict[str, Any]]:
    def node(state: RunState) -> dict[str, Any]:
        before = _spent(ctx)
        reset_peak()
        start = in_use_gb()
        update = fn(state, ctx)
        peak = peak_gb()
        if peak is not None and start is not None and peak - start > GIVE_BACK_ABOVE_GB:
            give_back()
        after = _spent(ctx)
        # The node's share of the budget goes into the state with its result (so a resumed run counts it once),
        # and so does its peak memory (the trace's timeline shows it per node).
        usage = {k: round(after[k] - before[k], 3) for k in after}
        return {**update, "usage": usage, "peak_rss_gb": peak}

    node.__name__ = fn.__name__
    return node


def build_graph(ctx: RunContext) -> StateGraph:
    graph = StateGraph(RunState)
    for name, fn in NODES.items():
        graph.add_node(name, _bind(fn, ctx))  # type: ignore[call-overload, arg-type]
    graph.add_edge(START, "plan")
    for stage, targets in ROUTES.items():
        graph.add_node(f"gate_{stage}", gate_node(stage, ctx.config, ctx.log))  # type: ignore[call-overload, arg-type]
        graph.add_edge(stage, f"gate_{stage}")
        graph.add_conditional_edges(f"gate_{stage}", route, {t: (END if t == "end" else t) for t in targets})
    graph.add_edge("blend", "evaluate")  # the gate after evaluate judges the blend
    graph.add_edge("promote", "plan")
    graph.add_edge("rollback", "plan")
    return graph


def compile_graph(ctx: RunContext, *, read_only: bool = False) -> Any:
    """The graph compiled with the SQLite checkpointer in the run directory (opened read-only for the commands
    that only read a run: they never write to it, even to create its tables)."""
    if read_only:
        connection = sqlite3.connect(f"file:{ctx.run.db_path}?mode=ro", uri=True, check_same_thread=False)
    else:
        connection = sqlite3.connect(ctx.run.db_path, check_same_thread=False)
    return build_graph(ctx).compile(checkpointer=SqliteSaver(connection))


def run_graph(app: Any, initial: RunState | None) -> dict[str, Any]:
    """Run (initial state) or resume (None) until the graph ends; every node's result is checkpointed first."""
    app.invoke(initial, THREAD, durability="sync")
    return dict(app.get_state(THREAD).values)
