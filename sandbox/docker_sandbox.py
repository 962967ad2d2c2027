"""Docker sandbox: each run in a container with no network, a read-only root, a tmpfs work dir, no capabilities,
a non-root user (65534), and memory, process and CPU limits. Everything it creates is labelled with its owner
and removed; containers left by a harness that was killed are removed by the next one on the same host.

By default every run gets a new container (~0.1-0.4 s). With `reuse=True` a pool of warm containers serves the
runs through `docker exec` (a container that timed out is replaced, and each run first kills what an earlier
run left and empties the work dir). Inside, `supervisor.py` writes the files, runs `main.py` under rlimits and
reports one JSON line. The image is a minimal Debian with python3 (`.ci/docker-engine start` builds it with
debootstrap and `docker import`, no registry needed); `AUTODIDACT_DOCKER_IMAGE` names another.
"""

from __future__ import annotations

import os
import queue
import socket
import threading
import time
from typing import Any

from .base import MINIMAL_ENV, ExecResult, Limits, Sandbox, StopReason
from .supervised import SUPERVISOR, parse_report, request_payload

DEFAULT_IMAGE = "autodidact-python:bookworm"
LABEL = "autodidact.sandbox"
OWNER = f"{socket.gethostname()}:{os.getpid()}"
CHUNK = 100_000  # below the kernel's 128 KiB limit on one argument
ISOLATION = ("container", "no_network", "readonly_root", "no_capabilities", "uid", "memory", "pids", "scratch")
REAPER = "import os, time\nwhile True:\n    try:\n        os.wait()\n    except ChildProcessError:\n        time.sleep(0.1)\n"


def image_name() -> str:
    return os.environ.get("AUTODIDACT_DOCKER_IMAGE", DEFAULT_IMAGE)


def container_config(lim: Limits) -> dict[str, Any]:
    """The `containers.create` arguments that confine one run (or one warm container) to `lim`."""
    from docker.types import LogConfig

    return {
        "user": "65534:65534",
        "network_mode": "none",
        "read_only": True,
        "tmpfs": {"/work": f"size={lim.scratch_bytes},mode=1777", "/tmp": "size=1m,mode=1777"},
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "mem_limit": f"{lim.memory_mb + 64}m",
        "memswap_limit": f"{lim.memory_mb + 64}m",
        "pids_limit": lim.processes + 8,
        "nano_cpus": 1_000_000_000,
        "environment": MINIMAL_ENV,
        "labels": {LABEL: OWNER},
        # The supervisor caps the program's output; this caps what a program that bypasses it can make the
        # daemon store.
        "log_config": LogConfig(type="json-file", config={"max-size": str(4 * lim.output_bytes + (1 << 20))}),
    }


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class DockerSandbox(Sandbox):
    name = "docker"

    def __init__(self, *, limits: Limits | None = None, image: str | None = None, reuse: bool = False,
                 client: Any = None) -> None:  # fmt: skip
        import docker

        self.client = client or docker.from_env()
        self.image = image or image_name()
        self.default_limits = limits or Limits()
        self.reuse = reuse
        self.concurrency = max(1, os.cpu_count() or 1)
        self._idle: queue.Queue[Any] = queue.Queue()
        self._created: list[Any] = []
        self._lock = threading.Lock()
        self.remove_orphans()

    def remove_orphans(self) -> int:
        """Remove the containers of harnesses on this host that died without cleaning up (kill -9, say)."""
        removed = 0
        for container in self.client.containers.list(all=True, filters={"label": LABEL}):
            host, _, pid = container.labels.get(LABEL, "").partition(":")
            if host == socket.gethostname() and pid.isdigit() and not _alive(int(pid)):
                container.remove(force=True)
                removed += 1
        return removed

    @classmethod
    def available(cls) -> tuple[bool, str]:
        try:
            import docker
        except ImportError:
            return False, "the docker package is not installed (pip install 'autodidact[docker]')"
        try:
            client = docker.from_env()
            client.ping()
        except Exception as e:
            where = os.environ.get("DOCKER_HOST", "the default socket")
            return False, f"no Docker engine answers at {where} ({type(e).__name__}); start one or set DOCKER_HOST"
        try:
            client.images.get(image_name())
        except Exception:
            return False, f"the image {image_name()} is missing: build it with `.ci/docker-engine start`"
        return True, ""

    def _execute(
        self, code: str, stdin: str, files: dict[str, str], lim: Limits, collect: tuple[str, ...]
    ) -> ExecResult:
        payload = request_payload(code, stdin, files, lim, collect, work="/work")
        if len(payload) > 16 * CHUNK:
            raise ValueError(f"the program and its files are too large for the docker sandbox ({len(payload)} bytes)")
        command = [
            "python3",
            "-I",
            "-S",
            "-c",
            SUPERVISOR,
            *(payload[i : i + CHUNK] for i in range(0, len(payload), CHUNK)),
        ]
        return self._run_warm(command, lim) if self.reuse else self._run_fresh(command, lim)

    def _run_fresh(self, command: list[str], lim: Limits) -> ExecResult:
        start = time.monotonic()
        container = self.client.containers.create(self.image, command=command, **container_config(lim))
        try:
            container.start()
            try:
                container.wait(timeout=lim.wall_s + 10)
            except Exception:  # the supervisor did not end it in time: the container did not start or hung
                container.kill()
                return ExecResult(stdout="", stderr="", exit_code=None, duration_s=time.monotonic() - start,
                                  stopped="timeout", isolation=ISOLATION)  # fmt: skip
            output = container.logs(stdout=True, stderr=False)
        finally:
            container.remove(force=True)
        return parse_report(output, lim, ISOLATION, time.monotonic() - start)

    def _start_warm(self, lim: Limits) -> Any:
        container = self.client.containers.run(
            self.image, command=["python3", "-I", "-S", "-c", REAPER], detach=True, **container_config(lim)
        )
        with self._lock:
            self._created.append(container)
        return container

    def _run_warm(self, command: list[str], lim: Limits) -> ExecResult:
        try:
            container = self._idle.get_nowait()
        except queue.Empty:
            container = self._start_warm(self.default_limits)
        start = time.monotonic()
        result: dict[str, Any] = {}

        def call() -> None:
            try:
                exec_id = self.client.api.exec_create(container.id, command, user="65534:65534")
                result["output"] = self.client.api.exec_start(exec_id, demux=True)[0] or b""
            except Exception as e:
                result["error"] = e

        thread = threading.Thread(target=call, daemon=True)
        thread.start()
        thread.join(lim.wall_s + 10)
        if thread.is_alive() or "error" in result:
            self._discard(container)
            why: StopReason = "timeout" if thread.is_alive() else "sandbox_error"
            return ExecResult(stdout="", stderr=str(result.get("error", "")), exit_code=None,
                              duration_s=time.monotonic() - start, stopped=why, isolation=ISOLATION)  # fmt: skip
        report = parse_report(result["output"], lim, ISOLATION, time.monotonic() - start)
        if report.stopped == "sandbox_error":  # the supervisor could not clean up or run: start afresh next time
            self._discard(container)
        else:
            self._idle.put(container)
        return report

    def _discard(self, container: Any) -> None:
        with self._lock:
            if container in self._created:
                self._created.remove(container)
        try:
            container.remove(force=True)
        except Exception:
            pass

    def close(self) -> None:
        with self._lock:
            containers, self._created = self._created, []
        for container in containers:
            try:
                container.remove(force=True)
            except Exception:
                pass
