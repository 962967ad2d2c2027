"""Shared fixtures. Nothing here reaches a model hub: the hub is switched off for the whole test session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Each test sees an AUTODIDACT_HOME of the session, never the user's cache."""
    monkeypatch.setenv("AUTODIDACT_HOME", str(tmp_path_factory.getbasetemp() / "autodidact-home"))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny Llama with random weights (no download)."""
    import tiny

    return tiny.build_tiny(tmp_path_factory.mktemp("tiny") / "random")


@pytest.fixture(scope="session")
def warm_model(tiny_model) -> Path:
    """The tiny Llama after a short warm-up on easy reference solutions: it solves some level-1 tasks."""
    import tiny

    return tiny.warm_up(tiny_model, tiny_model.parent / "warm")


TINY_RUN = [
    "--levels", "1", "--heldout-tasks", "40", "--tasks-per-round", "48", "--samples", "4", "--epochs", "4",
    "--learning-rate", "2e-3", "--transfer", "none", "--quiet", "--train-micro-batch", "8",
]  # fmt: skip
"""Small and quick: the tiny model's passes cost their overhead, so a step runs as one pass (the trainers' tests
cover micro-batches)."""


def tiny_run_args(model: Path, run_dir: Path, *extra: str, rounds: int = 2) -> list[str]:
    """`autodidact run` arguments for a small, quick run of the tiny model on level-1 tasks."""
    goal = "write small python functions"
    return ["run", goal, "--model", str(model), "--run-dir", str(run_dir), "--rounds", str(rounds), *TINY_RUN, *extra]


def signal_tiny_run(model: Path, run_dir: Path, logged: str, signum: int) -> tuple[int, str]:
    """Start a small run of the tiny model in its own process, send it `signum` once run.log has a line containing
    `logged`, and wait for it to end: (its exit status, its stderr)."""
    import signal
    import subprocess
    import time

    args = [sys.executable, "-m", "autodidact.agent.cli", *tiny_run_args(model, run_dir)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    log = run_dir / "run.log"
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if log.exists() and logged in log.read_text():
                break
            time.sleep(0.05)
        assert proc.poll() is None, f"the run ended before it logged {logged!r}"
        proc.send_signal(signal.Signals(signum))
        _, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, err


def trace_of(run_dir: Path, capsys) -> dict:
    """`autodidact trace RUN_DIR --json`, parsed."""
    import json

    from autodidact.agent.cli import main

    capsys.readouterr()
    assert main(["trace", str(run_dir), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def assert_each_stage_decided_once(trace: dict) -> None:
    """No stage of a round was decided again (as a resume that redid a finished node would); a blended round's
    evaluate is decided twice: its candidate, then the blend."""
    keys = [(d["round"], d["stage"]) for d in trace["decisions"]]
    blended = {r["round"] for r in trace["rounds"] if r.get("blend")}
    for key in set(keys):
        assert keys.count(key) == 1 + (key[1] == "evaluate" and key[0] in blended), f"{key} decided again"


@pytest.fixture(scope="session")
def finished_run(warm_model, tmp_path_factory) -> Path:
    """A finished two-round run of the tiny model (shared by the tests that only read it)."""
    from autodidact.agent.cli import main

    run_dir = tmp_path_factory.mktemp("loop") / "run"
    assert main(tiny_run_args(warm_model, run_dir)) == 0
    return run_dir


E2E_FIXTURES = {"tiny_model", "warm_model", "finished_run", "seed_dir"}


def pytest_collection_modifyitems(config, items):
    """A test that uses a model built in the tests trains it or runs the graph on it: it is marked `e2e`, so
    `pytest -m 'not e2e'` is the quick pass (the other markers are set where the tests are)."""
    for item in items:
        if E2E_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)


def need_backend(name: str) -> None:
    """Skip unless the sandbox backend `name` can run here; with AUTODIDACT_REQUIRE_DOCKER set (CI starts its own
    engine), a Docker backend that cannot run fails the test instead of skipping it."""
    from autodidact.sandbox import BACKENDS

    ok, why = BACKENDS[name].available()
    if ok:
        return
    if name == "docker" and os.environ.get("AUTODIDACT_REQUIRE_DOCKER"):
        pytest.fail(f"AUTODIDACT_REQUIRE_DOCKER is set but {why}")
    pytest.skip(f"the {name} sandbox cannot run here: {why}")


def pytest_report_header(config) -> str:
    """Say in the log which sandbox backends the conformance suite runs against here, and why others do not."""
    from autodidact.sandbox import BACKENDS

    parts = []
    for name, cls in BACKENDS.items():
        ok, why = cls.available()
        parts.append(name if ok else f"{name} (not here: {why})")
    return "sandbox backends: " + ", ".join(parts)


def run_processes() -> list[int]:
    """Processes of the local sandbox's slot uids (61000 and up): none may outlive its run."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and 61000 <= proc.stat().st_uid < 61256:
                found.append(int(proc.name))
        except OSError:
            pass
    return found


@pytest.fixture(autouse=True, scope="session")
def _no_run_outlives_the_tests():
    """Fail the session, and clean the machine, if any sandboxed process survived (a sweep that missed one)."""
    yield
    survivors = run_processes()
    for _ in range(50):
        for pid in run_processes():
            try:
                os.kill(pid, 9)
            except OSError:
                pass
    assert not survivors, f"{len(survivors)} sandboxed processes outlived the tests"
