"""`autodidact report`: one self-contained HTML file for a run (plots as inline SVG, no network needed).

Plots: held-out pass@1 per round with 95% Wilson intervals, per difficulty level, the data funnel per round, the training loss
curves, difficulty over rounds, and time per stage. Then the gate's decisions, and a browser of sampled attempts
and repairs with their verdicts (a search box and a filter by verdict, in a few lines of inline script).
"""

from __future__ import annotations

import html
import io
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from .context import RunContext
from .rundir import DamagedFile, atomic_write_text, read_jsonl
from .trace import final_lines, level_evals, transfer_line

SAMPLES_PER_STAGE = 40
FUNNEL = ("tasks", "attempts", "verified", "repaired", "selected")


def wilson(passed: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of a pass rate."""
    if n == 0:
        return 0.0, 0.0
    p = passed / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _svg(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _figure(title: str) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    ax.set_title(title, fontsize=11)
    ax.grid(alpha=0.3)
    return fig, ax


def plot_pass_rates(rounds: list[dict[str, Any]]) -> str:
    fig, ax = _figure("Held-out pass@1 per round (95% intervals)")
    for i, (role, key) in enumerate((("champion", "champion_pass1"), ("candidate", "candidate_pass1"))):
        xs, ys, lows, highs = [], [], [], []
        for r in rounds:
            ev = r.get("eval")
            if not ev:
                continue
            low, high = wilson(ev[key], ev["n"])
            rate = ev[key] / ev["n"]
            xs.append(r["round"] + (i - 0.5) * 0.15)
            ys.append(rate)
            lows.append(rate - low)
            highs.append(high - rate)
        ax.errorbar(xs, ys, yerr=[lows, highs], fmt="o", capsize=4, label=role)
    promoted = [r["round"] for r in rounds if r.get("promoted")]
    for x in promoted:
        ax.axvline(x, color="green", alpha=0.15, linewidth=8)
    ax.set_xlabel("round (green: promoted)")
    ax.set_ylabel("pass@1")
    ax.set_ylim(0, 1)
    ax.set_xticks([r["round"] for r in rounds])
    ax.legend(fontsize=8)
    return _svg(fig)


def plot_funnel(rounds: list[dict[str, Any]]) -> str:
    fig, ax = _figure("Data funnel per round")
    width = 0.8 / len(FUNNEL)
    for i, key in enumerate(FUNNEL):
        ax.bar([r["round"] + (i - 2) * width for r in rounds], [r["counts"].get(key, 0) for r in rounds], width,
               label=key)  # fmt: skip
    ax.set_yscale("symlog")
    ax.set_xlabel("round")
    ax.set_xticks([r["round"] for r in rounds])
    ax.legend(fontsize=8, ncol=len(FUNNEL), loc="upper center", bbox_to_anchor=(0.5, -0.2))
    return _svg(fig)


def _rows(path: Path, unreadable: list[str]) -> list[dict[str, Any]]:
    """The records of a run file, or none when it is damaged (the reason joins `unreadable`, shown in the report)."""
    try:
        return read_jsonl(path)
    except DamagedFile as exc:
        unreadable.append(str(exc))
        return []


def plot_losses(ctx: RunContext, rounds: list[dict[str, Any]], unreadable: list[str]) -> str:
    fig, ax = _figure("Training loss per step")
    for r in rounds:
        log = ctx.run.step_log(r["round"])
        if not log.exists():
            continue
        points = [(e["step"], e["loss"]) for e in _rows(log, unreadable) if "loss" in e]
        if points:
            ax.plot(*zip(*points, strict=True), marker=".", label=f"round {r['round']} ({r.get('method') or '-'})")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    return _svg(fig)


def plot_difficulty(ctx: RunContext, rounds: list[dict[str, Any]], unreadable: list[str]) -> str:
    fig, ax = _figure("Difficulty over rounds")
    for r in rounds:
        levels = r["plan"].get("levels", [])
        ax.scatter([r["round"]] * len(levels), levels, color="grey", alpha=0.5, s=60)
        selected = r.get("files", {}).get("selected")
        if selected and (ctx.run.path / selected).exists():
            rows = _rows(ctx.run.path / selected, unreadable)
            if rows:
                ax.scatter([r["round"]], [sum(x["difficulty"] for x in rows) / len(rows)], color="C1", s=80, marker="D")
    ax.set_xlabel("round (grey: levels practised; orange: mean level of the training rows)")
    ax.set_ylabel("difficulty level")
    ax.set_xticks([r["round"] for r in rounds])
    return _svg(fig)


def plot_levels(rounds: list[dict[str, Any]]) -> str | None:
    """Held-out pass@1 per difficulty level: the starting champion and each round's candidate (None when the
    evaluation has no levels to show)."""
    evals = level_evals(rounds)
    if not evals:
        return None
    fig, ax = _figure("Held-out pass@1 per difficulty level")
    curves = [("start", evals[0][1]["champion"], "k--")]
    curves += [(f"round {r['round']} ({'promoted' if r['promoted'] else 'rolled back'})", e["candidate"], ".-")
               for r, e in evals]  # fmt: skip
    for label, accuracy, style in curves:
        levels = sorted(accuracy, key=int)
        ax.plot([int(k) for k in levels], [accuracy[k] for k in levels], style, label=label)
    ax.set_xlabel("difficulty level")
    ax.set_ylabel("pass@1")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.2))
    return _svg(fig)


def plot_time(timeline: list[dict[str, Any]]) -> str:
    fig, ax = _figure("Time per stage (seconds)")
    per: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for e in timeline:
        if e.get("duration_s") is not None and not e["node"].startswith(("gate_", "(")):
            per[e["node"]][e["round"]] += e["duration_s"]
    rounds = sorted({r for stage in per.values() for r, seconds in stage.items() if r > 0 and seconds > 0})
    bottom = [0.0] * len(rounds)
    for stage, by_round in per.items():
        values = [by_round.get(r, 0.0) for r in rounds]
        ax.bar(rounds, values, bottom=bottom, label=stage)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_xlabel("round")
    ax.set_xticks(rounds)
    if rounds:
        ax.legend(fontsize=8, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.2))
    return _svg(fig)


def plot_memory(timeline: list[dict[str, Any]]) -> str | None:
    """Each stage's peak resident memory per round (GB); None for a run that did not record it."""
    per: dict[str, dict[int, float]] = defaultdict(dict)
    for e in timeline:
        if e.get("peak_rss_gb") is not None and e["round"] > 0:
            per[e["node"]][e["round"]] = max(per[e["node"]].get(e["round"], 0.0), e["peak_rss_gb"])
    if not per:
        return None
    fig, ax = _figure("Peak memory per stage (GB RSS)")
    for stage, by_round in per.items():
        rounds = sorted(by_round)
        ax.plot(rounds, [by_round[r] for r in rounds], marker="o", label=stage)
    ax.set_xlabel("round")
    ax.set_xticks(sorted({r for by_round in per.values() for r in by_round}))
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.2))
    return _svg(fig)


def samples(ctx: RunContext, rounds: list[dict[str, Any]], unreadable: list[str]) -> list[dict[str, Any]]:
    """Up to SAMPLES_PER_STAGE attempts and repairs per round, passed and failed ones alike."""
    out = []
    for r in rounds:
        files = r.get("files", {})
        tasks = {t["id"]: t for t in _rows(ctx.run.path / files["tasks"], unreadable)} if "tasks" in files else {}
        for stage, key in (("acquire", "attempts"), ("refine", "repairs")):
            if key not in files:
                continue
            rows = _rows(ctx.run.path / files[key], unreadable)
            passed = [x for x in rows if x["passed"]][: SAMPLES_PER_STAGE // 2]
            failed = [x for x in rows if not x["passed"]][: SAMPLES_PER_STAGE - len(passed)]
            for row in passed + failed:
                out.append(
                    {
                        "round": r["round"],
                        "stage": stage,
                        "task": tasks.get(row["task_id"], {}).get("prompt", row["task_id"]),
                        "failed": row.get("failed_completion"),
                        "feedback": row.get("feedback", ""),
                        "completion": row["completion"],
                        "passed": row["passed"],
                    }
                )
    return out


def _sample_html(s: dict[str, Any]) -> str:
    verdict = "passed" if s["passed"] else "failed"
    parts = [
        f'<details class="sample" data-verdict="{verdict}"><summary><span class="{verdict}">{verdict}</span> '
        f"round {s['round']} · {s['stage']} · {html.escape(s['task'].splitlines()[0][:110])}</summary>",
        f"<p><b>Task</b></p><pre>{html.escape(s['task'])}</pre>",
    ]
    if s["failed"] is not None:
        parts.append(f"<p><b>Failed attempt</b></p><pre>{html.escape(s['failed'])}</pre>")
        parts.append(f"<p><b>Sandbox feedback it was shown</b></p><pre>{html.escape(s['feedback'])}</pre>")
        parts.append(f"<p><b>Repair ({verdict})</b></p><pre>{html.escape(s['completion'])}</pre>")
    else:
        parts.append(f"<p><b>Attempt</b></p><pre>{html.escape(s['completion'])}</pre>")
        parts.append(f"<p><b>Verdict</b></p><pre>{html.escape(s['feedback'] or verdict)}</pre>")
    return "".join(parts) + "</details>"


STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
.plots{display:grid;grid-template-columns:1fr 1fr;gap:1em}.plot svg{width:100%;height:auto}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top}
pre{background:#f6f6f6;padding:6px;white-space:pre-wrap;font-size:12px}.passed{color:#080}.failed{color:#b00}
details.sample{border-bottom:1px solid #eee;padding:2px}#controls{margin:1em 0}
"""
SCRIPT = """
const q=document.getElementById('q'),v=document.getElementById('verdict'),c=document.getElementById('count');
function filter(){let n=0;for(const d of document.querySelectorAll('details.sample')){
const ok=(v.value==='all'||d.dataset.verdict===v.value)&&d.textContent.toLowerCase().includes(q.value.toLowerCase());
d.style.display=ok?'':'none';n+=ok;}c.textContent=n+' shown';}
q.addEventListener('input',filter);v.addEventListener('change',filter);filter();
document.body.dataset.ready='1';
"""


def render(ctx: RunContext, trace: dict[str, Any], unreadable: list[str] | None = None) -> str:
    """The report of a run from its trace (`build_trace`) and the files in its directory; a damaged file is left
    out, named at the top of the report and in `unreadable`."""
    unreadable = [] if unreadable is None else unreadable
    rounds = trace["rounds"]
    final = trace.get("final")
    plots = [plot_pass_rates(rounds), plot_levels(rounds), plot_funnel(rounds), plot_losses(ctx, rounds, unreadable),
             plot_difficulty(ctx, rounds, unreadable), plot_time(trace["timeline"]),
             plot_memory(trace["timeline"])] if rounds else []  # fmt: skip
    plots = [p for p in plots if p]
    head = f"<h1>autodidact run</h1><p><b>Goal:</b> {html.escape(trace['goal'])}<br><b>Status:</b> {trace['status']}"
    head += f"<br><b>Champion:</b> {html.escape(str(trace['champion']))}"
    if final:
        head += "<br><b>Held-out:</b> " + "<br>".join(html.escape(line.strip()) for line in final_lines(final))
    if trace.get("transfer"):
        head += f"<br><b>Transfer:</b> {html.escape(transfer_line(trace['transfer']))}"
    head += "</p>"
    decisions = "".join(
        f"<tr><td>{d['round']}</td><td>{d['stage']}</td><td>{d['verdict']}</td><td>{html.escape(d['reason'])}</td></tr>"
        for d in trace["decisions"]
    )
    browser = samples(ctx, rounds, unreadable)
    if unreadable:
        head += "<p><b>Left out (damaged):</b><br>" + "<br>".join(html.escape(u) for u in unreadable) + "</p>"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>autodidact: {html.escape(trace['goal'])}</title>"
        f"<style>{STYLE}</style></head><body>{head}"
        f"<h2>Plots</h2><div class='plots'>{''.join(f'<div class=plot>{p}</div>' for p in plots)}</div>"
        f"<h2>Gate decisions</h2><table><tr><th>round</th><th>stage</th><th>verdict</th><th>reason</th></tr>"
        f"{decisions}</table>"
        f"<h2>Attempts and repairs</h2><div id='controls'><input id='q' placeholder='search tasks, code, feedback'> "
        f"<select id='verdict'><option value='all'>all</option><option value='passed'>passed</option>"
        f"<option value='failed'>failed</option></select> <span id='count'></span></div>"
        f"<div id='samples'>{''.join(_sample_html(s) for s in browser)}</div>"
        f"<script type='application/json' id='trace'>{html.escape(json.dumps(trace['rounds'], default=str))}</script>"
        f"<script>{SCRIPT}</script></body></html>"
    )


def write_report(
    ctx: RunContext, trace: dict[str, Any], output: Path | None = None, unreadable: list[str] | None = None
) -> Path:
    path = output or ctx.run.report_file
    atomic_write_text(path, render(ctx, trace, unreadable))
    return path
