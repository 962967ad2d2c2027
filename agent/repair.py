"""`autodidact repair`: rebuild a run's state from its files when the checkpoint database is damaged.

Everything a round leaves behind outlives the database: `metrics.jsonl` has one record per finished round (what
the trace's table shows), `champions.jsonl` every change of champion, `data/` the tasks, attempts and training
rows, `models/` the checkpoints. Repair moves the damaged database aside (`checkpoints.sqlite.damaged-TIME`) and
writes a new one holding the state at the end of the last finished round: its history, champion and spending,
ready to plan the next round. What only the old database knew is lost and said so in the rebuilt state: the
gate's decisions before the repair and the work of the round that was in progress (resume redoes that round).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from .errors import UserError
from .rundir import RunDir
from .state import Decision, initial_state


def repair_run(run_dir: Path) -> dict[str, Any]:
    """Rebuild the run's checkpoint database from its files; what was rebuilt, for the message."""
    from .graph import THREAD, compile_graph
    from .run import open_run

    run = RunDir.open(run_dir, started=False)
    run.lock("repair")
    problem = run.check_database() if run.db_path.exists() else "it is missing"
    if problem is None:
        raise UserError(f"{run.db_path} is sound; nothing to repair (continue with autodidact resume {run_dir})")
    history = run.metrics()
    changes = run.store().champions()
    if not changes:
        raise UserError(
            f"{run.path / 'champions.jsonl'} is missing or empty; the run cannot be rebuilt: start a new one"
        )
    base, champion = changes[0]["champion"], changes[-1]["champion"]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for suffix in ("", "-wal", "-shm"):
        old = run.db_path.with_name(run.db_path.name + suffix)
        if old.exists():
            old.rename(old.with_name(f"{run.db_path.name}.damaged-{stamp}{suffix}"))
    ctx = open_run(run_dir, started=False)  # the writer's lock is this process's already
    round_no = history[-1]["round"] if history else 0
    state: dict[str, Any] = dict(initial_state(ctx.config.goal, base))
    reason = (
        f"state rebuilt from the run's files after the checkpoint database was damaged ({problem}): {len(history)} "
        f"finished rounds, champion {champion}; the gate's earlier decisions were in the damaged database"
    )
    state.update(
        round=round_no,
        champion=champion,
        history=history,
        usage={"wall_s": float(sum(r.get("spent_s") or 0.0 for r in history))},
        decisions=[Decision(round=round_no, stage="repair", verdict="repair", route="plan", reason=reason)],
    )
    app = compile_graph(ctx)
    app.update_state(THREAD, state, as_node="promote")  # as if the last round had just closed
    run.session({"repair": problem})
    ctx.log(reason)
    run.release()
    return {"rounds": len(history), "champion": champion, "problem": problem}
