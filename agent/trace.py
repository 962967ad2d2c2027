"""Reading a run back from its checkpoint database: the timeline of nodes, the rounds, the gate's decisions,
the final comparison, and the attempts behind any stage."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from .context import RunContext, model_key
from .graph import THREAD
from .planning.clock import startup_total
from .rundir import RunDir, read_jsonl
from .stats import compare
from .transfer import comparison


def _tested(base: list[dict[str, Any]], champ: list[dict[str, Any]]) -> dict[str, Any]:
    """The start against the champion on the same rows: McNemar, and the test that counts templates
    (`by_template`) where a template holds more than one task."""
    test = compare(
        [r["passed"] for r in base],
        [r["passed"] for r in champ],
        clusters=[str(r.get("template") or r["task_id"]) for r in base],
    )
    out = {
        "n": test["n"],
        "base_pass1": test["before_pass"],
        "champion_pass1": test["after_pass"],
        "gained": test["gained"],
        "lost": test["lost"],
        "p_value": test["p_value"],
        "ci": test["ci"],
    }
    return {**out, "by_template": test["by_cluster"]} if "by_cluster" in test else out


def final_comparison(ctx: RunContext, values: dict[str, Any]) -> dict[str, Any] | None:
    """The starting model against the final champion on the held-out set, when both were evaluated; with the
    tasks of templates the run practised and of those it never did (`parts`: seen, unseen) each tested apart,
    when the held-out set has both."""
    if "champion" not in values:
        return None
    base_file = ctx.run.eval_file("base")
    champ_file = ctx.run.eval_file(model_key(values["champion"], values["base_model"]))
    if not base_file.exists() or not champ_file.exists():
        return None
    base, champ = read_jsonl(base_file), read_jsonl(champ_file)
    out = {"champion": values["champion"], **_tested(base, champ)}
    unseen = [bool(r.get("unseen_template")) for r in base]
    if any(unseen) and not all(unseen):
        out["parts"] = {
            part: _tested(*([r for r, u in zip(rows, unseen, strict=True) if u == want] for rows in (base, champ)))
            for part, want in (("seen", False), ("unseen", True))
        }
    return out


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def timeline(ctx: RunContext, app: Any) -> list[dict[str, Any]]:
    """Every node the run executed, from the checkpoint history: when it started, how long it took, and for a
    gate its verdict and reason. Processes that were killed show as an `interrupted` entry (from the session
    log) followed by a `resumed` one."""
    snaps = list(app.get_state_history(THREAD))[::-1]
    entries: list[dict[str, Any]] = []
    for before, after in zip(snaps, snaps[1:], strict=False):
        if not before.next or before.next[0] == "__start__":
            continue
        entry: dict[str, Any] = {
            "node": before.next[0],
            "round": after.values.get("round", 0),
            "start": before.created_at,
            "duration_s": round(_seconds(after.created_at) - _seconds(before.created_at), 2),
        }
        if not entry["node"].startswith("gate_") and after.values.get("peak_rss_gb") is not None:
            entry["peak_rss_gb"] = after.values["peak_rss_gb"]
        if entry["node"].startswith("gate_") and after.values.get("decisions"):
            decision = after.values["decisions"][-1]
            entry.update(verdict=decision["verdict"], route=decision["route"], reason=decision["reason"])
        entries.append(entry)
    if snaps and snaps[-1].next:
        entries.append({"node": snaps[-1].next[0], "round": snaps[-1].values.get("round", 0),
                        "start": snaps[-1].created_at, "duration_s": None, "pending": True})  # fmt: skip
    sessions = ctx.run.sessions()
    for i, event in enumerate(sessions):
        if "start" not in event or i == 0:
            continue
        if "end" in sessions[i - 1]:
            continue
        # The previous process never said it stopped: it was killed. Its last node is the one running then.
        resumed = _seconds(event["time"])
        running = [e for e in entries if _seconds(e["start"]) <= resumed]
        node = running[-1]["node"] if running else "start"
        for e in running[-1:]:
            e["interrupted"] = True
        entries.append({"node": "(interrupted)", "round": running[-1]["round"] if running else 0,
                        "start": running[-1]["start"] if running else sessions[i - 1]["time"], "duration_s": None,
                        "reason": f"the process stopped without finishing, during {node}"})  # fmt: skip
        entries.append({"node": "(resumed)", "round": running[-1]["round"] if running else 0,
                        "start": event["time"], "duration_s": None, "reason": f"{event['start']} continued"})  # fmt: skip
    entries.sort(key=lambda e: _seconds(e["start"]))
    return entries


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
        "startup_s": startup_total(ctx.run),
        "stop_reason": values.get("stop_reason"),
        "next": list(snapshot.next),
        "champion": values.get("champion"),
        "champion_problem": champion_problem(ctx, values["champion"]) if values.get("champion") else None,
        "base_model": values.get("base_model"),
        "rounds": values.get("history", []),
        "decisions": values.get("decisions", []),
        "final": final_comparison(ctx, values),
        "timeline": timeline(ctx, app),
        "tasks": ctx.config.tasks.families,
        "task_choice": ctx.config.tasks.task_choice,
        "backend": ctx.config.inference.backend,
        "backend_choice": ctx.config.inference.backend_choice,
        "cluster": ctx.config.cluster,
        "transfer": comparison(ctx, values),
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
    if any("label_precision" in r["counts"] for r in trace["rounds"]):  # the majority filter's labels
        header.insert(3, "labels right")
        for line, r in zip(lines[1:], trace["rounds"], strict=True):
            precision = r["counts"].get("label_precision")
            hardest = list((r["counts"].get("label_precision_by_level") or {}).items())[-2:]
            detail = f" ({', '.join(f'L{k} {v:.0%}' for k, v in hardest)})" if hardest else ""
            line.insert(3, "-" if precision is None else f"{precision:.0%}{detail}")
    out = _columns(lines)
    out += format_levels(trace["rounds"]) + format_forms(trace["rounds"])
    final = trace.get("final")
    if final:
        out += final_lines(final)
    if trace.get("transfer"):
        out.append(transfer_line(trace["transfer"]))
    return "\n".join(out)


def _by_template(test: dict[str, Any]) -> str:
    t = test.get("by_template")
    if not t:
        return ""
    down = t["moved"] - t["up"]
    return f"; by template p={_fmt_p(t['p_value'])}, {t['up']} of {t['clusters']} templates up, {down} down"


def final_lines(final: dict[str, Any]) -> list[str]:
    """The start against the final champion on the held-out set, then its seen and unseen templates apart. Each
    gives McNemar's p and the p of the test that counts templates (`stats.clustered_greater`): a template's tasks
    tend to flip together, and the second does not count them as independent."""
    lines = [
        f"held-out pass@1: start {final['base_pass1']}/{final['n']} -> champion {final['champion_pass1']}/{final['n']} "
        f"({100 * (final['champion_pass1'] - final['base_pass1']) / final['n']:+.0f} points, +{final['gained']} -{final['lost']} tasks, "
        f"one-sided McNemar p={_fmt_p(final['p_value'])}, 95% CI of the difference "
        f"{final['ci'][0]:+.0%} to {final['ci'][1]:+.0%}{_by_template(final)})"
    ]
    for part, label in (("seen", "practised templates"), ("unseen", "templates never practised")):
        t = (final.get("parts") or {}).get(part)
        if t:
            lines.append(
                f"  {label}: {t['base_pass1']}/{t['n']} -> {t['champion_pass1']}/{t['n']} "
                f"(+{t['gained']} -{t['lost']} tasks, p={_fmt_p(t['p_value'])}{_by_template(t)})"
            )
    return lines


def transfer_line(t: dict[str, Any]) -> str:
    """The starting model and the final champion on the transfer benchmark, with 95% Wilson intervals."""
    lo, hi = t["base_ci"]
    clo, chi = t["champion_ci"]
    return (
        f"{t['bench']} pass@1 (never trained on): start {t['base_pass1']}/{t['n']} (95% CI {lo:.0%}-{hi:.0%}) -> "
        f"champion {t['champion_pass1']}/{t['n']} ({clo:.0%}-{chi:.0%}), +{t['gained']} -{t['lost']} tasks, "
        f"one-sided McNemar p={_fmt_p(t['p_value'])}"
    )


def _columns(lines: list[list[str]], label_first: bool = False) -> list[str]:
    """Right-aligned columns (the first left-aligned when it holds labels)."""
    widths = [max(len(row[i]) for row in lines) for i in range(len(lines[0]))]
    return [
        "  ".join(
            c.ljust(w) if i == 0 and label_first else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in lines
    ]


def level_evals(rounds: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(round, its per-level evaluation) for each round evaluated per difficulty level."""
    return [(r, r["eval"]["by_difficulty"]) for r in rounds if (r.get("eval") or {}).get("by_difficulty")]


def format_levels(rounds: list[dict[str, Any]]) -> list[str]:
    """Held-out pass@1 per difficulty level: the starting champion, then each round's candidate."""
    evals = level_evals(rounds)
    if not evals:
        return []
    levels = sorted({int(k) for _, e in evals for k in e["candidate"]} | {int(k) for k in evals[0][1]["champion"]})
    lines = [["held-out pass@1 per level"] + [f"L{lvl}" for lvl in levels] + [""]]

    def cells(acc: dict[str, float]) -> list[str]:
        return [f"{acc[str(lvl)]:.0%}" if str(lvl) in acc else "-" for lvl in levels]

    lines.append(["start (round 1 champion)"] + cells(evals[0][1]["champion"]) + [""])
    for r, e in evals:
        lines.append(
            [f"round {r['round']} candidate"] + cells(e["candidate"]) + ["promoted" if r["promoted"] else "rolled back"]
        )
    return _columns(lines, label_first=True)


def format_forms(rounds: list[dict[str, Any]]) -> list[str]:
    """How the held-out answers were given (e.g. direct or code), where the family lets the model choose."""
    evals = [
        (r, r["eval"]["answer_forms"])
        for r in rounds
        if ((r.get("eval") or {}).get("answer_forms") or {}).get("candidate")
    ]
    if not evals:
        return []

    def show(forms: dict[str, Any]) -> str:
        return ", ".join(f"{name} {v['share']:.0%} ({v['pass1']:.0%} right)" for name, v in forms.items())

    out = [f"held-out answer forms: start: {show(evals[0][1]['champion'])}"]
    return out + [f"  round {r['round']} candidate: {show(f['candidate'])}" for r, f in evals]


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
    if trace.get("champion_problem"):
        out.append(f"champion: {trace['champion_problem']}")
    choice = trace.get("task_choice")
    out.append(f"task families: {choice['reason']}" if choice else "task families: named with --tasks")
    if trace.get("backend"):
        out.append(f"inference backend: {trace.get('backend_choice') or trace['backend'] + ' (named with --backend)'}")
    if trace.get("cluster", "local") != "local":
        out.append(f"cluster: sampling, verification and evaluation on Ray actors ({trace['cluster']})")
    out.append("timeline:")
    for e in trace["timeline"]:
        start = e["start"][11:19]
        took = "   ..." if e["duration_s"] is None else f"{e['duration_s']:6.1f}s"
        verdict = f" {e['verdict']} -> {e['route']}: {e['reason']}" if "verdict" in e else ""
        extra = f" {e['reason']}" if e["node"].startswith("(") else ""
        flag = " (interrupted here)" if e.get("interrupted") else ""
        rss = f" peak {e['peak_rss_gb']:.1f} GB" if e.get("peak_rss_gb") is not None else ""
        out.append(f"  {start} {took}  round {e['round']} {e['node']:<14}{rss}{verdict}{extra}{flag}")
    out += format_planner(trace["decisions"])
    out.append(format_table(trace))
    usage = trace.get("usage") or {}
    if usage:
        out.append(
            f"spent: {usage.get('wall_s', 0):.0f} s in nodes, {trace.get('startup_s', 0):.0f} s starting up, "
            f"{usage.get('sandbox_s', 0):.0f} sandbox s, "
            f"{usage.get('tokens', 0):.0f} tokens generated, {usage.get('train_steps', 0):.0f} training steps"
        )
    return "\n".join(out)


def format_planner(decisions: list[dict[str, Any]]) -> list[str]:
    """Each round's planner (when it was not the curriculum alone): its tool calls, the gate's verdict on each,
    and a fallback to the curriculum with its reason."""
    out = []
    for d in decisions:
        numbers = d.get("numbers") or {}
        if d["stage"] != "plan" or numbers.get("planner") in (None, "curriculum"):
            continue
        out.append(f"round {d['round']} planner ({numbers['planner']}):")
        for call in numbers.get("tool_calls", []):
            why = "" if call["verdict"] == "accepted" else f": {call['reason']}"
            out.append(f"  {call['name']} -> {call['verdict']}{why}")
        if numbers.get("fallback"):
            fb = numbers["fallback"]
            out.append(f"  fell back to the curriculum ({fb['kind']}): {fb['reason']}")
    return out


STAGE_FILES = {"acquire": "attempts", "refine": "repairs", "select": "selected"}


def stage_detail(ctx: RunContext, trace: dict[str, Any], round_no: int, stage: str) -> dict[str, Any]:
    """What a stage of a round produced: its gate decision and its rows (attempts with their sandbox verdicts,
    repairs, selected rows, the training record, or the evaluation per task)."""
    record = next((r for r in trace["rounds"] if r["round"] == round_no), None)
    if record is None:
        raise ValueError(f"round {round_no} has not finished; rounds: {[r['round'] for r in trace['rounds']]}")
    # The stage's last decision: a retried train or a blended candidate's evaluation has one per try, and the rows
    # shown are the last try's.
    decisions = [d for d in trace["decisions"] if d["round"] == round_no and d["stage"] == stage]
    detail: dict[str, Any] = {"round": round_no, "stage": stage, "decision": decisions[-1] if decisions else None}
    files = record.get("files", {})
    if stage in STAGE_FILES and STAGE_FILES[stage] in files:
        detail["rows"] = read_jsonl(ctx.run.path / files[STAGE_FILES[stage]])
    elif stage == "plan":
        detail["rows"] = [record["plan"], *((record.get("planner") or {}).get("calls") or [])]
    elif stage == "train":
        detail["rows"] = [record.get("train") or {}]
        log = ctx.run.step_log(round_no)
        if log.exists():
            detail["log"] = read_jsonl(log)
    elif stage == "evaluate" and record.get("eval") and record.get("checkpoint"):
        base = trace["base_model"]
        champion = read_jsonl(ctx.run.eval_file(model_key(record["parent"], base)))
        candidate_file = ctx.run.eval_file(model_key(record["checkpoint"], base))
        candidate = read_jsonl(candidate_file) if candidate_file.exists() else []
        detail["rows"] = [
            {"task_id": a["task_id"], "champion": a["passed"], "candidate": b["passed"], "feedback": b["feedback"]}
            for a, b in zip(champion, candidate, strict=False)
        ]
    else:
        detail["rows"] = []
    return detail


BLOCKS = ("failed_completion", "feedback", "critique", "completion", "repair_feedback", "result")


def format_detail(detail: dict[str, Any], limit: int) -> str:
    d = detail["decision"]
    out = [
        f"round {detail['round']} {detail['stage']}: "
        + (f"{d['verdict']} -> {d['route']}: {d['reason']}" if d else "no decision")
    ]
    rows = detail["rows"]
    out.append(f"{len(rows)} rows" + (f" (first {limit})" if len(rows) > limit else ""))
    for row in rows[:limit]:
        # Long texts get a block each; a critiqued repair shows attempt, feedback, critique, repair in that order.
        blocks = [k for k in BLOCKS if isinstance(row.get(k), str) and (len(row[k]) >= 80 or row.get("critique"))]
        head = {k: v for k, v in row.items() if k not in blocks and (not isinstance(v, str) or len(v) < 80)}
        out.append("- " + json.dumps(head, default=str)[:300])
        for key in blocks:
            text = row[key].strip().replace("\n", "\n    ")
            out.append(f"  {key}:\n    {text[:1200]}")
    return "\n".join(out)


def list_runs(root: Path) -> list[dict[str, Any]]:
    """Every run directory under `root`: goal, rounds, champion and held-out pass@1 from start to champion."""
    found = []
    for path in sorted(p for p in root.iterdir() if RunDir.is_run(p)) + ([root] if RunDir.is_run(root) else []):
        run = RunDir(path)
        try:
            info = run.record()
        except (OSError, ValueError):
            continue
        metrics, store = run.metrics(), run.store()
        champion, history = store.champion(), store.champions()
        entry = {"run": str(path), "goal": info.get("goal"), "created": info.get("created"), "rounds": len(metrics),
                 "promoted": sum(1 for m in metrics if m.get("promoted")), "champion": champion}  # fmt: skip
        base, last = run.eval_file("base"), None
        if champion and metrics and history:  # the first champion of a run is its starting model
            last = run.eval_file(model_key(champion, history[0]["champion"]))
        if base.exists() and last is not None and last.exists():
            b, c = read_jsonl(base), read_jsonl(last)
            entry["heldout"] = f"{sum(r['passed'] for r in b)}/{len(b)} -> {sum(r['passed'] for r in c)}/{len(c)}"
        found.append(entry)
    return found


def champion_problem(ctx: RunContext, champion: str) -> str | None:
    """Why the champion cannot be loaded, with the fix, or None: a checkpoint of this run whose weights are gone,
    or a starting model that is no longer where the run found it."""
    store = ctx.run.store()
    if store.record(champion) is not None:
        if store.has_weights(champion):
            return None
        back = store.restorable_ancestors(champion)
        fix = (
            f"roll back to an ancestor that has weights: autodidact rollback {ctx.run.path} --to {back[0]}"
            if back
            else "start a new run with --model pointing at a model that exists"
        )
        return f"{champion} has no weights in {ctx.run.path / champion}; {fix}"
    location = Path(ctx.resolve(champion))
    if location.is_absolute() and not location.exists():
        return f"{champion} (the starting model) is gone; put it back, or start a new run with --model"
    return None
