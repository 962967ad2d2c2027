"""Reading a run back from its checkpoint database: the rounds, the gate's decisions, the final comparison."""

from __future__ import annotations

from typing import Any

from .context import RunContext, model_key
from .graph import THREAD
from .rundir import read_jsonl
from .stats import mcnemar_greater


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
    test = mcnemar_greater([r["passed"] for r in base], [r["passed"] for r in champ])
    return {
        "champion": values["champion"],
        "n": test["n"],
        "base_pass1": test["before_pass"],
        "champion_pass1": test["after_pass"],
        "gained": test["gained"],
        "lost": test["lost"],
        "p_value": test["p_value"],
    }


def build_trace(ctx: RunContext, app: Any) -> dict[str, Any]:
    snapshot = app.get_state(THREAD)
    values = dict(snapshot.values)
    return {
        "goal": ctx.config.goal,
        "status": "finished" if not snapshot.next and values else ("not started" if not values else "interrupted"),
        "next": list(snapshot.next),
        "champion": values.get("champion"),
        "rounds": values.get("history", []),
        "decisions": values.get("decisions", []),
        "final": final_comparison(ctx, values),
    }


def _fmt_p(p: float | None) -> str:
    return "-" if p is None else f"{p:.2g}"


def format_table(trace: dict[str, Any]) -> str:
    header = ["round", "tasks", "verified", "repaired", "selected", "method", "champion", "candidate", "p", "promoted"]
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
            f"one-sided McNemar p={_fmt_p(final['p_value'])})"
        )
    return "\n".join(out)


def format_trace(trace: dict[str, Any]) -> str:
    out = [
        f"goal: {trace['goal']}",
        f"status: {trace['status']}"
        + (f" (next: {', '.join(trace['next'])}; continue with autodidact resume)" if trace["next"] else ""),
    ]
    out.append("decisions:")
    for d in trace["decisions"]:
        out.append(f"  round {d['round']} {d['stage']:<8} {d['verdict']:<8} -> {d['route']:<8} {d['reason']}")
    out.append(format_table(trace))
    return "\n".join(out)
