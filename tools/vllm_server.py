"""vLLM's OpenAI-compatible server (`vllm serve`) as a child process on 127.0.0.1, for the `openai` backend.

    with VLLMServer(model) as server:       # starts the server with --enable-lora, waits until it answers
        ServerGenerator(model, base_url=server.base_url, served_model=server.served_model)

The server loads LoRA adapters at run time (`VLLM_ALLOW_RUNTIME_LORA_UPDATING`), which is how the loop serves
each candidate; on a CPU it gets the settings of `backends.prepare_vllm_cpu`. Its log goes to a file beside the
caller's choice (or a temporary one), and its last lines are in the error if it fails to start.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

from .backends import on_gpu, prepare_vllm_cpu, vllm_problem
from .models import ModelError

START_TIMEOUT_S = 600.0
"""Loading and warming the engine takes ~40 s on 2 CPU cores; a slow disk or a busy machine takes longer."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_command() -> list[str]:
    """The OpenAI-compatible server of the vLLM in this Python environment: what `vllm serve` runs. Started as a
    module, since the CPU build's `vllm` command fails before it starts (it looks up the version of a package named
    `vllm`, and the CPU build's package is `vllm-cpu`)."""
    problem = vllm_problem()
    if problem:
        raise ModelError(problem)
    return [sys.executable, "-m", "vllm.entrypoints.openai.api_server"]


class VLLMServer:
    """A `vllm serve MODEL --enable-lora` process on 127.0.0.1 (see the module doc)."""

    def __init__(
        self,
        model: str,
        *,
        served_model: str = "base",
        port: int | None = None,
        log_file: str | Path | None = None,
        max_lora_rank: int = 64,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.model = model
        self.served_model = served_model
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.log_file = Path(log_file) if log_file else Path(tempfile.mkstemp(prefix="vllm-serve-", suffix=".log")[1])
        self.args = [
            *server_command(),
            "--model",
            model,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--served-model-name",
            served_model,
            "--enable-lora",
            "--max-lora-rank",
            str(max_lora_rank),
            "--max-loras",
            "2",
            "--seed",
            "0",
            *extra_args,
        ]
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.start_s = 0.0

    def start(self, timeout_s: float = START_TIMEOUT_S) -> VLLMServer:
        import httpx

        env = dict(os.environ, VLLM_ALLOW_RUNTIME_LORA_UPDATING="True")
        if not on_gpu():
            prepare_vllm_cpu(env)
        self._log = open(self.log_file, "wb")
        started = time.monotonic()
        self.process = subprocess.Popen(self.args, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        health = self.base_url.removesuffix("/v1") + "/health"
        while time.monotonic() - started < timeout_s:
            if self.process.poll() is not None:
                self.stop()
                raise ModelError(f"vllm serve {self.model} exited with status {self.process.returncode}: {self.tail()}")
            try:
                if httpx.get(health, timeout=5).status_code == 200:
                    self.start_s = time.monotonic() - started
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(1.0)
        self.stop()
        raise ModelError(f"vllm serve {self.model} did not answer within {timeout_s:.0f} s: {self.tail()}")

    def tail(self, lines: int = 3) -> str:
        text = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
        return " | ".join(line.strip() for line in text.splitlines()[-lines:]) or "(no output)"

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 30 s)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> VLLMServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
