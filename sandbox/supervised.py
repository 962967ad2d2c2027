"""The harness side of `supervisor.py`, shared by the backends that run it inside someone else's machine
(Docker, E2B): the request it reads and the one-line JSON report it prints."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from .base import MINIMAL_ENV, ExecResult, Limits, stop_reason

SUPERVISOR = Path(__file__).with_name("supervisor.py").read_text(encoding="utf-8")


def request_payload(
    code: str, stdin: str, files: dict[str, str], lim: Limits, collect: Sequence[str], *, work: str
) -> str:
    """The request as base64 JSON (safe on a command line and in a file)."""
    request = {"code": code, "stdin": stdin, "files": files, "limits": asdict(lim), "collect": list(collect),
               "env": MINIMAL_ENV, "work": work}  # fmt: skip
    return base64.b64encode(json.dumps(request).encode()).decode()


def parse_report(output: bytes | str, lim: Limits, isolation: tuple[str, ...], duration: float) -> ExecResult:
    """The supervisor's JSON line (its last line of stdout) as an ExecResult; no report is a sandbox error."""
    text = output.decode("utf-8", "replace") if isinstance(output, bytes) else output
    lines = text.rstrip("\n").splitlines()
    try:
        report = json.loads(lines[-1])
        stdout, stderr, status = report["stdout"], report["stderr"], report["status"]
    except (IndexError, ValueError, KeyError, TypeError):
        tail = "\n".join(lines[-5:])[-500:]
        return ExecResult(stdout="", stderr=f"the sandbox gave no report: {tail}", exit_code=None,
                          duration_s=duration, stopped="sandbox_error", isolation=isolation)  # fmt: skip
    stopped = report.get("stopped") or stop_reason(status, stderr, float(report.get("cpu_s", 0)), lim)
    return ExecResult(stdout=stdout, stderr=stderr, exit_code=status, duration_s=duration, stopped=stopped,
                      files=dict(report.get("files") or {}), isolation=isolation)  # fmt: skip
