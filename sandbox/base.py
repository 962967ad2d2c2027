"""The sandbox contract: run untrusted code under limits and report what was observed.

Every backend takes the same `Limits` and returns the same `ExecResult`; the verification harness and the
agent only ever see this contract.
"""

from __future__ import annotations

import abc
from dataclasses import asdict, dataclass, field
from typing import Literal

StopReason = Literal["timeout", "cpu_limit", "memory_limit", "output_limit", "killed"]


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Resource limits for one execution."""

    cpu_s: float = field(default=5.0, metadata={"description": "CPU seconds before the run is killed."})
    wall_s: float = field(default=10.0, metadata={"description": "Wall-clock seconds before the run is killed."})
    memory_mb: int = field(default=512, metadata={"description": "Address-space limit in MiB."})
    processes: int = field(default=32, metadata={"description": "Process limit (not enforced for root)."})
    output_bytes: int = field(default=1 << 20, metadata={"description": "Combined stdout+stderr cap."})
    file_bytes: int = field(default=16 << 20, metadata={"description": "Largest file the code may write."})


@dataclass(frozen=True, kw_only=True)
class ExecResult:
    """What the harness observed of one execution.

    `stopped` is None when the program ended by itself, otherwise why the harness (or a limit) ended it.
    """

    stdout: str
    stderr: str
    exit_code: int | None
    duration_s: float
    stopped: StopReason | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class Sandbox(abc.ABC):
    """Runs Python source under `Limits`. Implementations say in their docstring what they protect against."""

    name: str = "abstract"

    @abc.abstractmethod
    def run(
        self,
        code: str,
        *,
        stdin: str = "",
        files: dict[str, str] | None = None,
        limits: Limits | None = None,
    ) -> ExecResult:
        """Run `code` as a Python program with `files` beside it in a fresh working directory."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the backend holds (workers, containers)."""

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
