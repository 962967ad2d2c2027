"""Local sandbox (the default): a pool of pre-started fork servers, one per slot, each forking a child per run.

A worker (`worker.py`) is a `python -I -S` process started once; each run is a `fork` of it, so a run costs a
few milliseconds instead of an interpreter start. What each run gets, where the machine allows it (the worker
probes at start, every result names what it had in `isolation`, and what is missing is said once on stderr):

- `uid`: a non-root uid per slot (so RLIMIT_NPROC holds, and it cannot signal the harness or other slots);
- `seccomp`: no sockets, namespaces, ptrace, keyrings or BPF (a `pyseccomp` filter, see `seccomp.py`);
- `netns`: an empty network namespace;
- `pidns`: it runs in the worker's PID namespace, whose init kills anything a run leaves behind (a forked or
  `setsid` straggler) before the next run; without it the worker, a child subreaper, sweeps by session and uid;
- `readonly_host`, `private_homes` and `scratch`: the host's files are read-only, closed homes above the
  interpreter are empty, and `/tmp` is the slot's tmpfs of `scratch_bytes`, emptied for each run;
- always: its own session, rlimits (CPU, address space, processes, file size, open files, no core dumps),
  the host's environment replaced by a minimal one (API keys never reach it), stdlib only on `sys.path` plus
  the packages the sandbox was built to allow.

The harness reads the output itself, with a cap and a wall deadline, and never waits on the program: past
either it tells the worker to kill the run, and a worker that does not answer is killed and replaced.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import queue
import selectors
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .base import MINIMAL_ENV, ExecResult, Limits, Sandbox, StopReason, stop_reason
from .seccomp import compile_filter

WORKER = str(Path(__file__).with_name("worker.py"))
UID_BASE = 61000
HEADER = struct.Struct("!I")
ALWAYS = ("session", "rlimits", "clean_env")

_said: set[str] = set()


class WorkerDied(RuntimeError):
    """The fork server stopped answering; the pool replaces it."""


@functools.cache
def _seccomp_arg() -> str:
    program, why = compile_filter()
    return program.hex() if program else "-" + why


def _package_dirs(packages: Sequence[str]) -> dict[str, str]:
    """Where each allowed top-level package is found (the run may import these and the stdlib, nothing else)."""
    dirs = {}
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None and not spec.submodule_search_locations:
            raise ValueError(f"package {name!r} is not installed, so the sandbox cannot allow it")
        location = spec.origin if spec.origin and not spec.submodule_search_locations else None
        base = Path(location).parent if location else Path(list(spec.submodule_search_locations or [])[0]).parent
        dirs[name] = str(base)
    return dirs


class _Inbox:
    """Length-prefixed JSON messages from a non-blocking socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def read(self) -> list[dict[str, Any]]:
        data = self.sock.recv(1 << 20)
        if not data:
            raise WorkerDied("the worker closed its socket")
        self.buf += data
        out = []
        while len(self.buf) >= HEADER.size:
            (size,) = HEADER.unpack_from(self.buf)
            if len(self.buf) < HEADER.size + size:
                break
            out.append(json.loads(self.buf[HEADER.size : HEADER.size + size]))
            self.buf = self.buf[HEADER.size + size :]
        return out


class _Worker:
    """One slot of the pool: a fork server process and the socket to it."""

    def __init__(self, slot: int, python: str, packages: dict[str, str], off: tuple[str, ...] = ()) -> None:
        self.slot = slot
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [
                python,
                "-I",
                "-S",
                WORKER,
                str(theirs.fileno()),
                str(UID_BASE + slot),
                _seccomp_arg(),
                json.dumps(packages),
                json.dumps(off),
            ],
            pass_fds=(theirs.fileno(),),
            env=MINIMAL_ENV,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=self.log,
            start_new_session=True,
        )
        theirs.close()
        self.sock = ours
        self.inbox = _Inbox(ours)
        try:
            hello = self._wait_message(time.monotonic() + 30)
        except WorkerDied as e:
            why = self.why_dead()
            self.close()
            raise WorkerDied(f"{e}: {why}") from None
        self.got: dict[str, str] = hello["got"]
        self.missing: dict[str, str] = hello["missing"]
        self.isolation = tuple(sorted((*ALWAYS, *self.got)))

    def _wait_message(self, deadline: float) -> dict[str, Any]:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerDied("the worker did not answer in time")
            self.sock.settimeout(remaining)
            try:
                messages = self.inbox.read()
            except TimeoutError:
                continue
            except OSError as e:
                raise WorkerDied(f"the worker's socket failed: {e}") from e
            finally:
                self.sock.settimeout(None)
            if messages:
                return messages[0]

    def send(self, msg: dict[str, Any], fds: Sequence[int] = ()) -> None:
        data = json.dumps(msg).encode()
        try:
            socket.send_fds(self.sock, [HEADER.pack(len(data))], list(fds))
            self.sock.sendall(data)
        except OSError as e:
            raise WorkerDied(f"could not reach the worker: {e}") from e

    def rss_mb(self) -> float:
        """The worker's resident memory now."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            return next(int(ln.split()[1]) for ln in f if ln.startswith("VmRSS:")) / 1024

    def why_dead(self) -> str:
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        self.log.seek(0)
        tail = self.log.read()[-600:].decode("utf-8", "replace").strip()
        return tail.splitlines()[-1] if tail else f"exit status {self.proc.poll()}"

    def close(self) -> None:
        try:
            self.sock.close()
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.log.close()

    def execute(self, request: dict[str, Any], lim: Limits) -> ExecResult:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        start = time.monotonic()
        try:
            self.send(request, (out_w, err_w))
        finally:
            os.close(out_w)
            os.close(err_w)
        chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
        total = 0
        stopped: StopReason | None = None
        end: dict[str, Any] | None = None
        end_at = killed_at = 0.0
        sel = selectors.DefaultSelector()
        for fd in (out_r, err_r):
            os.set_blocking(fd, False)
            sel.register(fd, selectors.EVENT_READ)
        self.sock.setblocking(False)
        sel.register(self.sock, selectors.EVENT_READ)

        def kill(reason: StopReason) -> None:
            nonlocal stopped, killed_at
            if stopped is None:
                stopped, killed_at = reason, time.monotonic()
                self.send({"kill": True})

        try:
            while True:
                now = time.monotonic()
                pipes_open = out_r in sel.get_map() or err_r in sel.get_map()
                if end is not None and (not pipes_open or now > end_at + 0.5):
                    break
                if end is None and now >= start + lim.wall_s:
                    kill("timeout")
                if killed_at and end is None and now > killed_at + 5:
                    raise WorkerDied("the worker did not end a run it was told to kill")
                for key, _ in sel.select(
                    timeout=0.05 if end is not None else min(0.1, start + lim.wall_s - now + 0.01)
                ):
                    if key.fileobj is self.sock:
                        for msg in self.inbox.read():
                            if "status" in msg or "error" in msg:
                                end, end_at = msg, time.monotonic()
                        continue
                    data = os.read(key.fd, 65536)
                    if not data:
                        sel.unregister(key.fd)
                        continue
                    keep = max(0, lim.output_bytes - total)
                    chunks[key.fd].append(data[:keep])
                    total += len(data)
                    if total > lim.output_bytes:
                        kill("output_limit")
        finally:
            sel.close()
            self.sock.setblocking(True)
            os.close(out_r)
            os.close(err_r)
        duration = time.monotonic() - start
        out = b"".join(chunks[out_r]).decode("utf-8", "replace")
        err = b"".join(chunks[err_r]).decode("utf-8", "replace")
        if "error" in end:
            return ExecResult(stdout=out, stderr=end["error"], exit_code=None, duration_s=duration,
                              stopped="sandbox_error", isolation=self.isolation)  # fmt: skip
        code = end["status"]
        if stopped is None:
            stopped = stop_reason(code, err, end["cpu_s"], lim)
        return ExecResult(stdout=out, stderr=err, exit_code=code, duration_s=duration, stopped=stopped,
                          files=end["files"], isolation=self.isolation)  # fmt: skip


class LocalSandbox(Sandbox):
    """A pool of `workers` fork servers (default: two per CPU, as a run waits about half its time); thread-safe."""

    name = "local"

    def __init__(
        self,
        *,
        workers: int | None = None,
        limits: Limits | None = None,
        packages: Sequence[str] = (),
        python: str | None = None,
        off: Sequence[str] = (),
    ) -> None:
        """`packages`: top-level packages runs may import besides the stdlib. `off`: protections to leave out
        (any of "seccomp", "netns", "pidns"), for a machine where one gets in the way, and to test the fallbacks."""
        unknown = set(off) - {"seccomp", "netns", "pidns"}
        if unknown:
            raise ValueError(f"cannot turn off {', '.join(sorted(unknown))}: only seccomp, netns and pidns")
        self.off = tuple(off)
        self.size = workers or 2 * max(1, os.cpu_count() or 1)
        self.concurrency = self.size
        self.default_limits = limits or Limits()
        self.packages = _package_dirs(packages)
        self.python = python or sys.executable
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
        self._free_slots = list(range(self.size))  # a slot is a uid: two live workers never share one
        self._lock = threading.Lock()
        self._closed = False

    def workers(self) -> list[_Worker]:
        """The workers started so far."""
        with self._lock:
            return list(self._all)

    def _start(self, slot: int) -> _Worker:
        worker = _Worker(slot, self.python, self.packages, self.off)
        for key, why in worker.missing.items():
            if key not in _said:
                _said.add(key)
                print(f"autodidact: sandbox: running without {key}: {why}", file=sys.stderr)
        with self._lock:
            self._all.append(worker)
        return worker

    def _acquire(self) -> _Worker:
        if self._closed:
            raise RuntimeError("the sandbox is closed")
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            slot = self._free_slots.pop(0) if self._free_slots else -1
        if slot < 0:
            return self._idle.get()
        try:
            return self._start(slot)
        except WorkerDied as e:
            with self._lock:
                self._free_slots.append(slot)  # or later runs would wait for a worker that never comes
            raise RuntimeError(f"the sandbox worker could not start: {e}") from e

    def _retire(self, worker: _Worker) -> None:
        """Stop a worker that failed and free its slot for a new one."""
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)
        worker.close()
        with self._lock:
            self._free_slots.append(worker.slot)

    def _execute(
        self, code: str, stdin: str, files: dict[str, str], lim: Limits, collect: tuple[str, ...]
    ) -> ExecResult:
        request = {"code": code, "stdin": stdin, "files": files, "limits": asdict(lim),
                   "collect": list(collect), "env": MINIMAL_ENV}  # fmt: skip
        why = ""
        for _ in range(2):  # a worker that dies is replaced and the run tried once more
            worker: _Worker | None = self._acquire()
            assert worker is not None
            try:
                return worker.execute(request, lim)
            except WorkerDied as e:
                why = f"{e}: {worker.why_dead()}"
                self._retire(worker)
                worker = None
            finally:
                if worker is not None:
                    self._idle.put(worker)
        return ExecResult(stdout="", stderr=f"the sandbox worker died ({why})", exit_code=None, duration_s=0.0,
                          stopped="sandbox_error")  # fmt: skip

    def close(self) -> None:
        self._closed = True
        with self._lock:
            workers, self._all = self._all, []
        for worker in workers:
            worker.close()
