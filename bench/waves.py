"""Round 1's acquire on the default goal, sampled in waves and with a fixed k, on the same seed in one process.

    python bench/waves.py [--seed 0] [--goal "get better at writing small Python functions"]

Runs the graph up to refine twice (`sampling.waves` true, then false) in fresh run directories under
runs/bench-waves-*, and prints attempts, verified attempts, tasks solved, acquire seconds, and the attempts on
tasks with mixed outcomes (the ones that teach) per minute, with the ratio of waves to fixed k.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

from autodidact.agent.cli import quiet_libraries
from autodidact.agent.graph import THREAD, compile_graph
from autodidact.agent.run import configure, create_run
from autodidact.agent.rundir import read_jsonl


def acquire_once(goal: str, seed: int, waves: bool) -> dict[str, Any]:
    run_dir = Path("runs") / f"bench-waves-{'on' if waves else 'off'}-{seed}"
    shutil.rmtree(run_dir, ignore_errors=True)
    config = configure(goal, {"sampling.waves": waves, "transfer": "none", "seed": seed})
    ctx, initial = create_run(run_dir, config, quiet=True)
    app = compile_graph(ctx)
    app.invoke(initial, THREAD, durability="sync", interrupt_before=["refine"])
    ctx.close()
    counts = app.get_state(THREAD).values["current"]["counts"]
    per_task: dict[str, list[bool]] = {}
    for row in read_jsonl(ctx.run.round_file(1, "attempts")):
        per_task.setdefault(row["task_id"], []).append(row["passed"])
    useful = sum(len(v) for v in per_task.values() if 0 < sum(v) < len(v))
    minutes = counts["acquire_s"] / 60
    return {
        "attempts": counts["attempts"],
        "verified": counts["verified"],
        "tasks_solved": counts["tasks_solved"],
        "acquire_s": counts["acquire_s"],
        "useful": useful,
        "useful_per_min": round(useful / minutes, 1),
        "verified_per_min": round(counts["verified"] / minutes, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--goal", default="get better at writing small Python functions")
    args = parser.parse_args()
    quiet_libraries()
    rows = {name: acquire_once(args.goal, args.seed, waves) for name, waves in (("fixed k", False), ("waves", True))}
    print(json.dumps(rows, indent=1))
    fixed, waves = rows["fixed k"], rows["waves"]
    for key in ("useful_per_min", "verified_per_min"):
        print(f"{key}: waves {waves[key]} / fixed k {fixed[key]} = x{waves[key] / max(fixed[key], 1e-9):.2f}")


if __name__ == "__main__":
    main()
