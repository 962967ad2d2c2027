"""Reading a run back from its checkpoint database: the rounds, the gate's decisions, the final comparison."""

from __future__ import annotations

from typing import Any

from .context import RunContext, model_key
from .graph import THREAD
from .rundir import read_jsonl
from .stats import compare


def final_comparison(ctx: RunContext, values: dict[str, Any]) -> dict[str, Any] | None:
    """The starting model against the final champion on the held-out set, when both were evaluated."""
    if "champion" not in values:
        return None
    eval_dir = ctx.run.path / "data" / "eval"
    base_file = eval_dir / "base.jsonl"
    champ_file = eval_dir / f"{model_key(values['champion'], values['base_model'])}.jsonl"
    if not base_file.exists() or not champ_file.exists():
        return None
    base, champ = read_jsonl(base_file), read_jsonl(champ_file)
    test = compare([r["passed"] for r in base], [r["passed"] for r in champ])
    return {
        "champion": values["champion"],
        "n": test["n"],
        "base_pass1": test["before_pass"],
        "champion_pass1": test["after_pass"],
        "gained": test["gained"],
        "lost": test["lost"],
        "p_value": test["p_value"],
        "ci": test["ci"],
    }


def build_trace(ctx: RunContext, app: Any) -> dict[str, Any]:
    snapshot = app.get_state(THREAD)
    values = dict(snapshot.values)
    awaiting = snapshot.interrupts[0].value if snapshot.interrupts else None
    status = "finished" if not snapshot.next and values else ("not started" if not values else "interrupted")
    return {
        "goal": ctx.config.goal,
        "status": "awaiting approval" if awaiting else status,
        "awaiting": awaiting,
        "usage": values.get("usage", {}),
        "stop_reason": values.get("stop_reason"),
        "next": list(snapshot.next),
        "champion": values.get("champion"),
        "rounds": values.get("history", []),
        "decisions": values.get("decisions", []),
        "final": final_comparison(ctx, values),
    }


def _fmt_p(p: float | None) -> str:
    return "-" if p is None else f"{p:.2g}"


def _fmt_guard(guard: dict[str, Any] | None) -> str:
    if not guard or not guard.get("n"):
        return "-"
    return f"{guard['champion_pass']}->{guard['candidate_pass']}/{guard['n']}"


def format_table(trace: dict[str, Any]) -> str:
    header = [
        "round", "tasks", "verified", "repaired", "selected", "method", "champion", "candidate", "p", "95% CI", "guard",
        "promoted",
    ]  # fmt: skip
    lines = [header]
    for r in trace["rounds"]:
        ev = r.get("eval") or {}
        c = r["counts"]
        lines.append(
            [
                str(r["round"]),
                str(c["tasks"]),
                str(c["verified"]),
                str(c["repaired"]),
                str(c["selected"]),
                r.get("method") or "-",
                f"{ev['champion_pass1']}/{ev['n']}" if ev else "-",
                f"{ev['candidate_pass1']}/{ev['n']}" if ev else "-",
                _fmt_p(ev.get("p_value")),
                f"{ev['ci'][0]:+.0%}..{ev['ci'][1]:+.0%}" if ev.get("ci") else "-",
                _fmt_guard(ev.get("guard")),
                "yes" if r["promoted"] else "no",
            ]
        )
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    out = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in lines]
    final = trace.get("final")
    if final:
        out.append(
            f"held-out pass@1: start {final['base_pass1']}/{final['n']} -> champion {final['champion_pass1']}/{final['n']} "
            f"({final['champion_pass1'] - final['base_pass1']:+d} points, +{final['gained']} -{final['lost']} tasks, "
            f"one-sided McNemar p={_fmt_p(final['p_value'])}, 95% CI of the difference "
            f"{final['ci'][0]:+.0%} to {final['ci'][1]:+.0%})"
        )
    return "\n".join(out)


def format_trace(trace: dict[str, Any]) -> str:
    out = [
        f"goal: {trace['goal']}",
        f"status: {trace['status']}"
        + (
            " (autodidact resume RUN_DIR --approve or --reject)"
            if trace.get("awaiting")
            else (f" (next: {', '.join(trace['next'])}; continue with autodidact resume)" if trace["next"] else "")
        ),
    ]
    out.append("decisions:")
    for d in trace["decisions"]:
        out.append(f"  round {d['round']} {d['stage']:<8} {d['verdict']:<8} -> {d['route']:<8} {d['reason']}")
    out.append(format_table(trace))
    usage = trace.get("usage") or {}
    if usage:
        out.append(
            f"spent: {usage.get('wall_s', 0):.0f} s in nodes, {usage.get('sandbox_s', 0):.0f} sandbox s, "
            f"{usage.get('tokens', 0):.0f} tokens generated, {usage.get('train_steps', 0):.0f} training steps"
        )
    return "\n".join(out)
