"""The commands that drive a run: `run`, `resume` and `rollback` (through `agent.run`, as Studio and bench do)."""

from __future__ import annotations

import argparse
from dataclasses import fields
from typing import Any

from ..errors import UserError
from ..run import configure, create_run, execute, open_run
from .options import given_settings

BUDGET_UNITS = {"s": 1, "m": 60, "h": 3600}
BUDGET_NAMES = {"wall": "wall_s", "sandbox": "sandbox_s", "tokens": "tokens", "steps": "train_steps"}


def parse_budget(text: str | None) -> dict[str, float]:
    """`wall=30m,sandbox=600s,tokens=2e6,steps=500` as {"budget.wall_s": 1800, ...} (0: no limit, as `wall=0` for a
    run without the default wall budget); a one-line error otherwise."""
    budget: dict[str, float] = {}
    for item in filter(None, (x.strip() for x in (text or "").split(","))):
        name, _, value = item.partition("=")
        key = BUDGET_NAMES.get(name.strip())
        scale = 1
        if key in ("wall_s", "sandbox_s") and value[-1:] in BUDGET_UNITS:
            value, scale = value[:-1], BUDGET_UNITS[value[-1]]
        try:
            amount = float(value) * scale
        except ValueError:
            amount = -1
        if key is None or amount < 0:
            raise UserError(
                f"--budget {item}: write KEY=VALUE with KEY one of {', '.join(BUDGET_NAMES)} and a VALUE of 0 (no "
                "limit) or more, e.g. --budget wall=30m,tokens=2e6"
            )
        budget[f"budget.{key}"] = amount
    return budget


def parse_train_params(items: list[str]) -> dict[str, dict[str, Any]]:
    """`METHOD.NAME=VALUE` overrides, checked against the method's hyper-parameters and converted to their type."""
    from ...trainers import PARAMS

    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        method, dot, name = key.partition(".")
        if not sep or not dot or method not in PARAMS:
            raise UserError(f"--train-param {item}: write METHOD.NAME=VALUE with METHOD one of {', '.join(PARAMS)}")
        spec = {f.name: f for f in fields(PARAMS[method])}.get(name)
        if spec is None:
            names = ", ".join(f.name for f in fields(PARAMS[method]))
            raise UserError(f"--train-param {item}: {method} has no hyper-parameter {name!r}; it has: {names}")
        kind: Any = type(spec.default)
        try:
            value: Any = {"true": True, "false": False}[text.lower()] if kind is bool else kind(text)
        except (KeyError, ValueError):
            raise UserError(f"--train-param {item}: {name} takes a {kind.__name__}, got {text!r}") from None
        out.setdefault(method, {})[name] = value
    return out


def config_from_args(args: argparse.Namespace) -> Any:
    """The run's configuration from `autodidact run`'s arguments (see `agent.run.configure`)."""
    settings = {**given_settings(args), **parse_budget(args.budget)}
    return configure(args.goal, settings, plugins=args.plugin, train_params=parse_train_params(args.train_param))


def cmd_run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    ctx, initial = create_run(args.run_dir, config, quiet=args.quiet)
    return _finish(ctx, execute(ctx, initial, "run", started=args.started))


def _finish(ctx: Any, trace: dict[str, Any]) -> int:
    from ..trace import format_table

    print(format_table(trace))
    print(f"run directory: {ctx.run.path}  (autodidact trace {ctx.run.path})")
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    from ..graph import THREAD, compile_graph
    from ..run import check_sandbox
    from ..trace import champion_problem

    ctx = open_run(args.run_dir, quiet=args.quiet, write="resume")
    ctx._sandbox = check_sandbox(ctx.config.sandbox)
    snapshot = compile_graph(ctx).get_state(THREAD)
    if not snapshot.values:
        raise UserError(f"{args.run_dir} has no saved progress; start a new run instead")
    problem = champion_problem(ctx, snapshot.values["champion"])
    if problem and snapshot.next:
        raise UserError(f"cannot resume: the champion {problem}")
    waiting = bool(snapshot.interrupts)
    if waiting and not (args.approve or args.reject):
        raise UserError(f"{args.run_dir} awaits approval of a promotion; resume it with --approve or --reject")
    if (args.approve or args.reject) and not waiting:
        raise UserError(f"{args.run_dir} is not waiting for an approval; resume it without --approve/--reject")
    if not snapshot.next:
        ctx.log("resume: the run had already finished")
    else:
        ctx.log(f"resume: continuing at {', '.join(snapshot.next)} (round {snapshot.values.get('round')})")
    if waiting:
        from langgraph.types import Command

        ctx.log(f"resume: the promotion is {'approved' if args.approve else 'rejected'} by a person")
        return _finish(
            ctx, execute(ctx, Command(resume={"approve": bool(args.approve)}), "resume", started=args.started)
        )
    return _finish(ctx, execute(ctx, None, "resume", started=args.started))


def cmd_rollback(args: argparse.Namespace) -> int:
    from ..graph import THREAD, compile_graph
    from ..state import Decision

    ctx = open_run(args.run_dir, write="rollback")
    app = compile_graph(ctx)
    snapshot = app.get_state(THREAD)
    if not snapshot.values or snapshot.next:
        raise UserError(f"{args.run_dir} is not finished; finish it (autodidact resume {args.run_dir}) first")
    store = ctx.run.store()
    current = snapshot.values["champion"]
    allowed = store.restorable_ancestors(current)
    target = args.to or next(iter(allowed), None)
    if target is None or target not in allowed:
        choices = ", ".join(allowed) or "none: the champion is the starting model"
        raise UserError(f"cannot roll {current} back to {target or 'an ancestor'}; ancestors with weights: {choices}")
    reason = f"rolled back by the user from {current} to its ancestor {target}"
    round_no = snapshot.values.get("round", 0)
    store.set_champion(target, reason=reason, round_no=round_no)
    decision = Decision(round=round_no, stage="rollback", verdict="rollback", route="end", reason=reason)
    # As if the last gate had decided it: the run stays finished, with the new champion and the decision.
    app.update_state(THREAD, {"champion": target, "decisions": [decision]}, as_node="gate_plan")
    ctx.log(reason)
    print(f"champion: {target}")
    return 0


def cmd_repair(args: argparse.Namespace) -> int:
    from ..repair import repair_run

    done = repair_run(args.run_dir)
    print(
        f"repaired {args.run_dir}: {done['rounds']} finished rounds, champion {done['champion']}; continue with "
        f"autodidact resume {args.run_dir}"
    )
    return 0
