"""The E2B backend's mapping of limits and results, checked with the real e2b client types (no service needed).
The backend itself runs in the conformance suite when E2B_API_KEY is set."""

from __future__ import annotations

import json

import pytest
from e2b import TimeoutException
from e2b.sandbox.commands.command_handle import CommandExitException, CommandResult

from autodidact.sandbox import E2BSandbox, Limits
from autodidact.sandbox.e2b_sandbox import command_args, create_args, result_of


def report(**fields) -> str:
    base = {"stdout": "hi\n", "stderr": "", "status": 0, "cpu_s": 0.01, "stopped": None, "files": {}}
    return "noise\n" + json.dumps({**base, **fields}) + "\n"


def test_limits_map_onto_the_remote_sandbox_and_command():
    lim = Limits(wall_s=7, cpu_s=3)
    create = create_args(lim)
    assert create["allow_internet_access"] is False and create["envs"] == {} and create["timeout"] >= 300
    cmd = command_args("/home/user/.request-1", lim)
    assert cmd["cmd"].endswith("@/home/user/.request-1") and cmd["cmd"].startswith("python3 -I -S ")
    assert lim.wall_s < cmd["timeout"] <= lim.wall_s + 30 and cmd["envs"] == {}


def test_a_finished_command_gives_the_supervisors_report():
    out = CommandResult(stdout=report(files={"a.txt": "x"}), stderr="", exit_code=0, error=None)
    r = result_of(out, Limits(), 0.5)
    assert (r.stdout, r.exit_code, r.stopped, r.files) == ("hi\n", 0, None, {"a.txt": "x"})
    assert "microvm" in r.isolation and r.duration_s == 0.5


def test_a_nonzero_exit_still_reads_the_report():
    err = CommandExitException(stderr="", stdout=report(status=-24, cpu_s=2.0), exit_code=1, error="exit status 1")
    assert result_of(err, Limits(cpu_s=2), 1.0).stopped == "cpu_limit"


def test_a_client_timeout_is_a_timeout_and_other_failures_are_sandbox_errors():
    assert result_of(TimeoutException("deadline"), Limits(), 20.0).stopped == "timeout"
    broken = result_of(ConnectionError("reset"), Limits(), 0.1)
    assert broken.stopped == "sandbox_error" and "reset" in broken.stderr


def test_output_without_a_report_is_a_sandbox_error():
    out = CommandResult(stdout="Traceback ...\nSyntaxError", stderr="", exit_code=1, error=None)
    assert result_of(out, Limits(), 0.1).stopped == "sandbox_error"


def test_the_backend_runs_only_with_a_key(monkeypatch):
    monkeypatch.delenv("E2B_API_KEY", raising=False)
    assert E2BSandbox.available() == (False, "E2B_API_KEY is not set")


def test_e2b_conformance_needs_a_key():
    ok, why = E2BSandbox.available()
    if not ok:
        pytest.skip(f"the E2B conformance runs need E2B_API_KEY: {why}")
    with E2BSandbox() as sandbox:
        assert sandbox.run("print(1)").stdout == "1\n"
