"""E2B sandbox: runs on E2B's cloud micro-VMs with `e2b-code-interpreter`, when `E2B_API_KEY` is set.

One remote sandbox (internet access off) serves the runs one at a time; `supervisor.py` is uploaded once and
runs each program under rlimits with a cap on its output, as in the Docker backend. A run that outlives its
wall limit (plus a margin for the network) is reported as a timeout and its remote sandbox is replaced.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from typing import Any

from .base import ExecResult, Limits, Sandbox
from .supervised import SUPERVISOR, parse_report, request_payload

ISOLATION = ("microvm", "no_network", "rlimits", "clean_env")
HOME = "/home/user"
SUPERVISOR_PATH = f"{HOME}/.autodidact-supervisor.py"
NETWORK_MARGIN_S = 15.0


def create_args(lim: Limits) -> dict[str, Any]:
    """How `Limits` map onto `Sandbox.create`: the remote sandbox lives a while past one run; no internet."""
    return {"timeout": int(max(300, 4 * lim.wall_s)), "allow_internet_access": False, "envs": {}}


def command_args(request_path: str, lim: Limits) -> dict[str, Any]:
    """How one run maps onto `commands.run`: the supervisor enforces `wall_s`; the client waits a margin more."""
    return {
        "cmd": f"python3 -I -S {SUPERVISOR_PATH} @{request_path}",
        "timeout": lim.wall_s + NETWORK_MARGIN_S,
        "cwd": HOME,
        "envs": {},
    }


def result_of(outcome: Any, lim: Limits, duration: float) -> ExecResult:
    """An ExecResult from what `commands.run` returned or raised (a CommandResult, CommandExitException or an
    E2B timeout)."""
    from e2b import TimeoutException

    if isinstance(outcome, TimeoutException):
        return ExecResult(stdout="", stderr="", exit_code=None, duration_s=duration, stopped="timeout",
                          isolation=ISOLATION)  # fmt: skip
    if isinstance(outcome, BaseException) and not hasattr(outcome, "stdout"):
        return ExecResult(stdout="", stderr=f"E2B failed: {type(outcome).__name__}: {outcome}", exit_code=None,
                          duration_s=duration, stopped="sandbox_error", isolation=ISOLATION)  # fmt: skip
    return parse_report(outcome.stdout or "", lim, ISOLATION, duration)


class E2BSandbox(Sandbox):
    name = "e2b"

    def __init__(self, *, limits: Limits | None = None, template: str | None = None) -> None:
        from e2b_code_interpreter import Sandbox as Remote

        self.remote_class = Remote
        self.template = template
        self.default_limits = limits or Limits()
        self._remote: Any = None
        self._lock = threading.Lock()

    @classmethod
    def available(cls) -> tuple[bool, str]:
        if not os.environ.get("E2B_API_KEY"):
            return False, "E2B_API_KEY is not set"
        try:
            import e2b_code_interpreter  # noqa: F401
        except ImportError:
            return False, "the e2b-code-interpreter package is not installed (pip install 'autodidact[e2b]')"
        return True, ""

    def _ensure(self, lim: Limits) -> Any:
        if self._remote is None:
            self._remote = self.remote_class.create(template=self.template, **create_args(lim))
            self._remote.files.write(SUPERVISOR_PATH, SUPERVISOR)
        return self._remote

    def _execute(
        self, code: str, stdin: str, files: dict[str, str], lim: Limits, collect: tuple[str, ...]
    ) -> ExecResult:
        payload = request_payload(code, stdin, files, lim, collect, work=f"{HOME}/work")
        start = time.monotonic()
        with self._lock:
            outcome: Any
            try:
                remote = self._ensure(lim)
                path = f"{HOME}/.request-{secrets.token_hex(8)}"
                remote.files.write(path, payload)
                outcome = remote.commands.run(**command_args(path, lim))
            except Exception as e:  # CommandExitException still carries the supervisor's stdout
                outcome = e
                if not hasattr(e, "stdout"):
                    self._drop()
            return result_of(outcome, lim, time.monotonic() - start)

    def _drop(self) -> None:
        remote, self._remote = self._remote, None
        if remote is not None:
            try:
                remote.kill()
            except Exception:
                pass

    def close(self) -> None:
        with self._lock:
            self._drop()
