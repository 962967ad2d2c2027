"""Local sandbox: a fresh `python -I -S` subprocess per run, in its own session and temporary directory.

What it protects against: runaway CPU (RLIMIT_CPU), memory (RLIMIT_AS), large files (RLIMIT_FSIZE), core dumps,
output floods (read with a cap, then the process group is killed), hangs (wall deadline, then the whole
process group is killed, never waiting on a grandchild that holds the pipes), and leaking the host's
environment (the child gets a minimal environment, so API keys never reach it).

What it does NOT protect against: network access, reading files the host user can read, or a process that
leaves its session with `setsid` and outlives the run. It is a resource-limited runner, not a security
boundary; the hardened backends (fork server with seccomp and namespaces, Docker, E2B) provide that.
"""

from __future__ import annotations

import os
import resource
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

from .base import ExecResult, Limits, Sandbox, StopReason

_MINIMAL_ENV = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
}


def _limit_child(limits: Limits) -> None:
    """Runs in the child between fork and exec: apply rlimits."""
    cpu = max(1, int(limits.cpu_s + 0.999))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    mem = limits.memory_mb << 20
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class LocalSandbox(Sandbox):
    """Runs each program in a new `python -I -S` process (stdlib only, no site-packages, no user env)."""

    name = "local"

    def __init__(self, python: str | None = None, limits: Limits | None = None) -> None:
        self.python = python or sys.executable
        self.default_limits = limits or Limits()

    def run(
        self,
        code: str,
        *,
        stdin: str = "",
        files: dict[str, str] | None = None,
        limits: Limits | None = None,
    ) -> ExecResult:
        lim = limits or self.default_limits
        with tempfile.TemporaryDirectory(prefix="autodidact-sbx-") as tmp:
            work = Path(tmp)
            (work / "main.py").write_text(code)
            for name, text in (files or {}).items():
                target = (work / name).resolve()
                if work.resolve() not in target.parents:
                    raise ValueError(f"sandbox file name escapes the work dir: {name!r}")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
            stdin_path = work / ".stdin"
            stdin_path.write_text(stdin)
            with open(stdin_path, "rb") as stdin_file:
                return self._execute(work, stdin_file, lim)

    def _execute(self, work: Path, stdin_file: IO[bytes], lim: Limits) -> ExecResult:
        start = time.monotonic()
        proc = subprocess.Popen(
            [self.python, "-I", "-S", "main.py"],
            cwd=work,
            env={**_MINIMAL_ENV, "HOME": str(work), "TMPDIR": str(work)},
            stdin=stdin_file,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=lambda: _limit_child(lim),
        )
        assert proc.stdout is not None and proc.stderr is not None
        out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
        chunks: dict[int, list[bytes]] = {out_fd: [], err_fd: []}
        total = 0
        stopped: StopReason | None = None
        deadline = start + lim.wall_s
        sel = selectors.DefaultSelector()
        for stream in (proc.stdout, proc.stderr):
            os.set_blocking(stream.fileno(), False)
            sel.register(stream, selectors.EVENT_READ)
        try:
            while sel.get_map():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    stopped = "timeout"
                    break
                if proc.poll() is not None:
                    # The program ended: whatever still holds the pipes is a straggler of its group.
                    _kill_group(proc)
                    remaining = min(remaining, 0.5)
                for key, _ in sel.select(timeout=min(remaining, 0.1)):
                    data = os.read(key.fd, 65536)
                    if not data:
                        sel.unregister(key.fileobj)
                        continue
                    keep = max(0, lim.output_bytes - total)
                    chunks[key.fd].append(data[:keep])
                    total += len(data)
                    if total > lim.output_bytes:
                        stopped = "output_limit"
                        break
                if stopped:
                    break
        finally:
            sel.close()
            _kill_group(proc)
            proc.wait()
            proc.stdout.close()
            proc.stderr.close()
        duration = time.monotonic() - start
        code = proc.returncode
        out = b"".join(chunks[out_fd]).decode("utf-8", "replace")
        err = b"".join(chunks[err_fd]).decode("utf-8", "replace")
        if stopped is None and code is not None and code < 0:
            sig = -code
            if sig == signal.SIGXCPU or (sig == signal.SIGKILL and _used_cpu_limit(lim, duration)):
                stopped = "cpu_limit"
            elif sig == signal.SIGKILL:
                stopped = "killed"
        if stopped is None and code not in (0, None) and err.rstrip().endswith("MemoryError"):
            stopped = "memory_limit"
        return ExecResult(stdout=out, stderr=err, exit_code=code, duration_s=duration, stopped=stopped)


def _used_cpu_limit(lim: Limits, duration: float) -> bool:
    return duration >= lim.cpu_s
