"""The commands that read a run or list what is installed: `trace`, `runs`, `report`, `exec`, `seed`, `tasks`,
`tools` and `plugins`."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from ...trainers.scratch import SeedParams
from ..errors import UserError
from ..run import check_sandbox, load_plugins, open_run

MAX_PROGRAM_BYTES = 1 << 20
"""The largest program `exec` runs (the sandbox's scratch area holds it and what it writes)."""


def cmd_trace(args: argparse.Namespace) -> int:
    from ..graph import compile_graph
    from ..trace import build_trace, format_detail, format_trace, stage_detail

    ctx = open_run(args.run_dir)
    trace = build_trace(ctx, compile_graph(ctx, read_only=True))
    if args.round or args.stage:
        if not (args.round and args.stage):
            raise UserError("--round and --stage go together, e.g. autodidact trace RUN_DIR --round 1 --stage acquire")
        try:
            detail = stage_detail(ctx, trace, args.round, args.stage)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        print(json.dumps(detail, indent=2) if args.json else format_detail(detail, args.limit))
        return 0
    print(json.dumps(trace, indent=2) if args.json else format_trace(trace))
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from ..trace import list_runs

    if not args.root.is_dir():
        raise UserError(f"{args.root} is not a directory; give the folder that holds run directories")
    found = list_runs(args.root)
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    if not found:
        print(f"no runs in {args.root}")
    for r in found:
        print(
            f"{r['run']}  goal: {r['goal']!r}  rounds: {r['rounds']} ({r['promoted']} promoted)  "
            f"champion: {r['champion']}  held-out pass@1: {r.get('heldout', '-')}"
        )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from ..graph import compile_graph
    from ..report import write_report
    from ..trace import build_trace

    ctx = open_run(args.run_dir)
    unreadable: list[str] = []
    path = write_report(ctx, build_trace(ctx, compile_graph(ctx, read_only=True)), args.output, unreadable)
    for problem in unreadable:
        print(f"autodidact: report: left out {problem}", file=sys.stderr)
    print(path)
    return 0


def cmd_exec(args: argparse.Namespace) -> int:
    from ...sandbox import Limits

    try:
        size = args.file.stat().st_size
        if size > MAX_PROGRAM_BYTES:
            raise UserError(
                f"{args.file} is {size / 2**20:.1f} MiB; exec runs Python programs of at most "
                f"{MAX_PROGRAM_BYTES >> 10} KiB: give the program, not its data"
            )
        code = args.file.read_bytes().decode("utf-8")
    except OSError as exc:
        raise UserError(f"cannot read {args.file}: {exc.strerror}; give a Python file") from None
    except UnicodeDecodeError:
        raise UserError(f"{args.file} is not UTF-8 text; give a Python source file") from None
    if "\0" in code:
        raise UserError(f"{args.file} is a binary file (it holds NUL bytes); give a Python source file")
    limits = Limits(wall_s=args.timeout, cpu_s=args.timeout)
    with check_sandbox(args.sandbox) as sandbox:
        result = sandbox.run(code, limits=limits)
    if "No space left on device" in result.stderr:  # the sandbox's scratch tmpfs, not the host's disk
        note = (
            f"autodidact: the program filled the sandbox's scratch area: {limits.scratch_bytes >> 20} MiB is the "
            "sandbox's limit, not the host's disk"
        )
        result = replace(result, stderr=result.stderr + note + "\n")
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        print(
            f"[exit {result.exit_code}, {result.duration_s:.3f} s"
            + (f", stopped: {result.stopped}]" if result.stopped else "]"),
            file=sys.stderr,
        )
    return 0 if result.exit_code == 0 and not result.stopped else 1


def cmd_seed(args: argparse.Namespace) -> int:
    from ...tools.tasks import get_family
    from ...trainers import TrainingError
    from ...trainers.scratch import check_seedable, seed_model

    try:
        family = get_family(args.task)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    output = args.output or Path("seeds") / f"{args.task}-{args.max_level}"
    params = SeedParams(**{f.name: getattr(args, f.name) for f in fields(SeedParams)})
    try:
        check_seedable(family, args.max_level)
        print(f"autodidact: training a model from scratch on {args.task} levels 1-{args.max_level}", file=sys.stderr)
        report = seed_model(family, output, params)
    except TrainingError as exc:
        raise UserError(str(exc)) from None
    print(f"{report['parameters']:,} parameters, {report['steps']} steps in {report['train_s']:.0f} s")
    print("level  held-out exact match")
    for level, accuracy in report["accuracy"].items():
        trained = "trained" if int(level) <= args.max_level else "unseen"
        print(f"{level:>5}  {accuracy:6.1%}  ({trained})")
    print(f'model: {output}  (autodidact run "..." --tasks {args.task} --model {output})')
    return 0


def _listing(rows: list[dict[str, Any]], group: str | None, as_json: bool) -> int:
    from ...plugins import broken

    failed = [{"name": p.name, "origin": p.origin, "error": p.error} for p in broken(group)]
    if as_json:
        print(json.dumps([*rows, *({**f, "broken": True} for f in failed)], indent=2))
        return 0
    width = max((len(r["name"]) for r in rows), default=4)
    for r in rows:
        levels = f" [levels {r['levels']}]" if "levels" in r else ""
        print(f"{r['name']:<{width}}  {r['description']}{levels}  (from {r['origin']})")
    for f in failed:
        print(f"{f['name']:<{width}}  BROKEN: {f['error']}  (from {f['origin']})")
    return 0


def cmd_tasks(args: argparse.Namespace) -> int:
    from ...plugins import discover

    load_plugins(args.plugin)
    rows = []
    for p in discover("tasks"):
        if p.error is None:
            levels = list(p.value.levels)
            shown = f"{levels[0]}-{levels[-1]}" if levels == list(range(levels[0], levels[-1] + 1)) else levels
            rows.append({"name": p.name, "description": p.description, "levels": shown, "origin": p.origin})
    return _listing(rows, "tasks", args.json)


def cmd_tools(args: argparse.Namespace) -> int:
    from ...tools import agent_tools

    load_plugins(args.plugin)
    rows = [{"name": t.name, "description": t.description.strip().splitlines()[0], "origin": origin}
            for t, origin in agent_tools()]  # fmt: skip
    return _listing(rows, "tools", args.json)


def cmd_plugins(args: argparse.Namespace) -> int:
    from ...plugins import GROUPS, discover

    load_plugins(args.plugin)
    rows = [
        {"name": f"{group}: {p.name}", "description": p.description, "origin": p.origin}
        for group in GROUPS
        for p in discover(group)
        if p.error is None
    ]
    return _listing(rows, None, args.json)
