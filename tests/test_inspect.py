"""Inspecting runs: the timeline, drill-down into a stage, the list of runs, the HTML report opened in headless
Chromium, the graph served by `langgraph dev`, and progress output that stays plain in a log."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import tiny_run_args, trace_of

from autodidact.agent.cli import main
from autodidact.tools.vllm_server import free_port

ARTIFACTS = Path(os.environ.get("AUTODIDACT_TEST_ARTIFACTS", Path(__file__).parent.parent / "test-artifacts"))


def test_the_timeline_lists_every_node_with_its_gate_verdict(finished_run, capsys):
    t = trace_of(finished_run, capsys)
    nodes = [e["node"] for e in t["timeline"]]
    assert nodes[:3] == ["plan", "gate_plan", "acquire"] and nodes[-1] == "gate_plan"
    gates = [e for e in t["timeline"] if e["node"].startswith("gate_")]
    assert [(g["verdict"], g["reason"]) for g in gates] == [(d["verdict"], d["reason"]) for d in t["decisions"]]
    assert all(e["duration_s"] >= 0 for e in t["timeline"])
    assert sum(e["duration_s"] for e in t["timeline"] if e["node"] == "acquire") > 0
    # Each node's own peak memory (the kernel's peak is reset before it).
    peaks = {e["node"]: e["peak_rss_gb"] for e in t["timeline"] if not e["node"].startswith("gate_")}
    assert set(peaks) >= {"plan", "acquire", "train", "evaluate"} and all(0 < v < 24 for v in peaks.values())


def test_drill_down_shows_the_attempts_of_a_stage_with_their_verdicts(finished_run, capsys):
    capsys.readouterr()
    assert main(["trace", str(finished_run), "--round", "1", "--stage", "acquire", "--json"]) == 0
    detail = json.loads(capsys.readouterr().out)
    assert detail["decision"]["stage"] == "acquire" and len(detail["rows"]) == 48 * 4
    assert {"completion", "passed", "feedback"} <= set(detail["rows"][0])
    assert main(["trace", str(finished_run), "--round", "1", "--stage", "evaluate", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert len(rows) == 40 and {"champion", "candidate"} <= set(rows[0])
    assert main(["trace", str(finished_run), "--round", "1", "--stage", "refine", "--limit", "1"]) == 0
    assert "round 1 refine: forward -> select" in capsys.readouterr().out
    assert main(["trace", str(finished_run), "--round", "9", "--stage", "acquire"]) == 2


def test_runs_lists_goal_rounds_champion_and_heldout_pass_rate(finished_run, capsys):
    capsys.readouterr()
    assert main(["runs", str(finished_run.parent), "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    t = trace_of(finished_run, capsys)
    assert entry["goal"] == t["goal"] and entry["rounds"] == len(t["rounds"]) and entry["champion"] == t["champion"]
    final = t["final"]
    assert entry["heldout"] == f"{final['base_pass1']}/{final['n']} -> {final['champion_pass1']}/{final['n']}"
    parts = final["parts"]  # the tiny run's held-out set has templates it never practises
    assert parts["seen"]["n"] + parts["unseen"]["n"] == final["n"] and parts["unseen"]["n"] > 0
    assert parts["seen"]["gained"] + parts["unseen"]["gained"] == final["gained"]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("AUTODIDACT_REQUIRE_CHROMIUM"):
        pytest.fail("AUTODIDACT_REQUIRE_CHROMIUM is set but no chromium is installed")
    pytest.skip("headless Chromium is not installed (apt-get install chromium)")


@pytest.mark.chromium
def test_the_report_opens_in_a_browser_with_its_plots_and_sample_browser(finished_run, tmp_path):
    browser = chromium()
    report = finished_run / "report.html"
    assert report.exists(), "every run writes its report when it stops"
    assert main(["report", str(finished_run), "-o", str(tmp_path / "r.html")]) == 0
    text = (tmp_path / "r.html").read_text()
    remote = r"""(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//|<link"""
    assert not re.search(remote, text), "the report must open without a network"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
    url = (tmp_path / "r.html").as_uri()
    dom = subprocess.run(
        [browser, *flags, "--virtual-time-budget=5000", "--dump-dom", url], capture_output=True, text=True, timeout=120
    ).stdout
    assert dom.count("<svg") == 7, "seven plots"
    assert "Peak memory per stage" in dom
    assert "Held-out pass@1 per difficulty level" in dom
    assert 'data-ready="1"' in dom, "the sample browser's script ran"
    assert dom.count('class="sample"') > 0 and " shown</span>" in dom
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report.png"
    subprocess.run(
        [browser, *flags, f"--screenshot={shot}", "--window-size=1280,2400", url], capture_output=True, timeout=120
    )
    assert shot.stat().st_size > 10_000


@pytest.mark.studio
def test_a_run_started_from_studio_with_a_goal_is_a_run_the_cli_can_trace(warm_model, tmp_path, capsys):
    langgraph = shutil.which("langgraph", path=str(Path(sys.executable).parent))
    if langgraph is None:
        pytest.skip("langgraph-cli is not installed (pip install 'autodidact[studio]')")
    from langgraph_sdk import get_sync_client

    port = free_port()
    env = {**os.environ, "AUTODIDACT_RUNS": str(tmp_path / "runs"), "LANGSMITH_TRACING": "false"}
    root = Path(__file__).parent.parent
    server = subprocess.Popen(
        [langgraph, "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", "--port", str(port)],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = get_sync_client(url=f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 120
        while True:
            try:
                assistants = client.assistants.search()
                break
            except Exception:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(1)
        assert [a["graph_id"] for a in assistants] == ["autodidact"]
        graph = client.assistants.get_graph(assistants[0]["assistant_id"])
        assert {"start_run", "improve"} <= {n["id"] for n in graph["nodes"]}
        settings = {"model": str(warm_model), "tasks": "python-functions", "budget.rounds": 1, "tasks.levels": "1",
                    "evaluation.heldout_tasks": 40, "sampling.tasks_per_round": 48, "sampling.samples_per_task": 4,
                    "training.epochs": 4, "training.learning_rate": 2e-3}  # fmt: skip
        thread = client.threads.create()
        result = client.runs.wait(
            thread["thread_id"], assistants[0]["assistant_id"],
            input={"goal": "write small python functions", "settings": settings},
        )  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert result["status"] == "finished", result
    run_dir = Path(result["run_dir"])
    assert run_dir.parent == tmp_path / "runs" and "round" in result["table"]
    capsys.readouterr()
    assert main(["trace", str(run_dir), "--json"]) == 0
    trace = json.loads(capsys.readouterr().out)
    assert trace["status"] == "finished" and [r["round"] for r in trace["rounds"]] == [1]
    assert trace["goal"] == "write small python functions"
    assert main(["report", str(run_dir)]) == 0 and (run_dir / "report.html").stat().st_size > 10_000


def test_progress_in_a_log_has_no_control_codes(warm_model, tmp_path):
    args = [a for a in tiny_run_args(warm_model, tmp_path / "run", rounds=1) if a != "--quiet"]
    done = subprocess.run(
        [sys.executable, "-m", "autodidact.agent.cli", *args], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "round 1: train:" in done.stderr
    assert "\r" not in done.stderr and "\x1b[" not in done.stderr


def test_the_final_line_gives_the_gain_in_points_of_any_heldout_size():
    from autodidact.agent.trace import format_table

    final = {"base_pass1": 246, "champion_pass1": 432, "n": 561, "gained": 186, "lost": 0, "p_value": 1e-56,
             "ci": [0.29, 0.37]}  # fmt: skip
    line = format_table({"rounds": [], "final": final}).splitlines()[-1]
    assert "start 246/561 -> champion 432/561 (+33 points, +186 -0 tasks" in line, line


def test_the_final_lines_give_the_unseen_templates_apart_with_the_test_that_counts_templates():
    from autodidact.agent.trace import format_table

    def part(n, before, after, gained, lost, p, up=None):
        out = {"n": n, "base_pass1": before, "champion_pass1": after, "gained": gained, "lost": lost, "p_value": p,
               "ci": [0.1, 0.2]}  # fmt: skip
        return {**out, "by_template": {"clusters": 14, "moved": up + 1, "up": up, "p_value": 0.031}} if up else out

    final = {**part(200, 58, 133, 76, 1, 5.2e-22, 25), "parts": {"seen": part(146, 39, 94, 55, 0, 2.8e-17),
             "unseen": part(54, 19, 39, 21, 1, 5.5e-6, 6)}}  # fmt: skip
    lines = format_table({"rounds": [], "final": final}).splitlines()
    assert "p=5.2e-22" in lines[-3] and "by template p=0.031, 25 of 14 templates up, 1 down" in lines[-3]
    assert lines[-2].strip() == "practised templates: 39/146 -> 94/146 (+55 -0 tasks, p=2.8e-17)"
    assert lines[-1].strip().startswith("templates never practised: 19/54 -> 39/54 (+21 -1 tasks, p=5.5e-06; by")
