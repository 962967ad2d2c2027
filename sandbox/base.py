"""The sandbox contract: run untrusted code under limits and report what was observed.

Every backend takes the same `Limits` and returns the same `ExecResult`; the verification harness and the
agent only ever see this contract.
"""

from __future__ import annotations

import abc
import signal
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

# The whole environment a program gets: none of the host's variables (API keys!) reach it.
MINIMAL_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}

StopReason = Literal["timeout", "cpu_limit", "memory_limit", "output_limit", "killed", "sandbox_error"]


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Resource limits for one execution."""

    cpu_s: float = field(default=5.0, metadata={"description": "CPU seconds before the run is killed."})
    wall_s: float = field(default=10.0, metadata={"description": "Wall-clock seconds before the run is killed."})
    memory_mb: int = field(default=512, metadata={"description": "Address-space limit in MiB."})
    processes: int = field(default=32, metadata={"description": "Process limit (not enforced for root)."})
    output_bytes: int = field(default=1 << 20, metadata={"description": "Combined stdout+stderr cap."})
    file_bytes: int = field(default=16 << 20, metadata={"description": "Largest file the code may write."})
    scratch_bytes: int = field(default=32 << 20, metadata={"description": "Total size of the run's scratch area."})


@dataclass(frozen=True, kw_only=True)
class ExecResult:
    """What the harness observed of one execution.

    `stopped` is None when the program ended by itself, otherwise why the harness (or a limit) ended it;
    "sandbox_error" means the sandbox itself failed, not the program. `files` holds the files the caller asked
    to collect that the program left in its work dir, and `isolation` names the protections the run had.
    """

    stdout: str
    stderr: str
    exit_code: int | None
    duration_s: float
    stopped: StopReason | None = None
    files: dict[str, str] = field(default_factory=dict)
    isolation: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class Sandbox(abc.ABC):
    """Runs Python source under `Limits`. Implementations say in their docstring what they protect against."""

    name: str = "abstract"
    concurrency: int = 1
    """How many runs the backend serves at once (callers may run that many threads)."""
    default_limits: Limits = Limits()

    def run(
        self,
        code: str,
        *,
        stdin: str = "",
        files: dict[str, str] | None = None,
        limits: Limits | None = None,
        collect: Sequence[str] = (),
    ) -> ExecResult:
        """Run `code` as a Python program with `files` beside it in a fresh working directory.

        The program's stdin is `stdin`; the files named in `collect` are read back from the work dir after it ends.
        """
        check_file_names(files)
        return self._execute(code, stdin, dict(files or {}), limits or self.default_limits, tuple(collect))

    @abc.abstractmethod
    def _execute(
        self, code: str, stdin: str, files: dict[str, str], lim: Limits, collect: tuple[str, ...]
    ) -> ExecResult:
        """The backend's run, with the arguments checked and defaulted."""

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """Whether this backend can run here, and if not, why (a missing daemon, key or package)."""
        return True, ""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the backend holds (workers, containers)."""

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def stop_reason(exit_code: int | None, stderr: str, cpu_s: float, limits: Limits) -> StopReason | None:
    """Why a program that ended on its own terms was stopped by a limit, from its status and what it printed.

    `exit_code` is negative for a signal, as in `subprocess`.
    """
    if exit_code is not None and exit_code < 0:
        sig = -exit_code
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu_s >= limits.cpu_s):
            return "cpu_limit"
        if sig == signal.SIGKILL:
            return "killed"
    if exit_code not in (0, None) and stderr.rstrip().endswith("MemoryError"):
        return "memory_limit"
    return None


def check_file_names(files: dict[str, str] | None) -> None:
    """Refuse file names that would land outside the run's work dir."""
    for name in files or {}:
        if Path(name).is_absolute() or ".." in Path(name).parts or not name.strip():
            raise ValueError(f"sandbox file name escapes the work dir: {name!r}")
