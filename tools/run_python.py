"""`run_python` as an agent tool: run a Python program in the sandbox and see what it printed."""

from __future__ import annotations

from typing import Any

from langchain_core.tools import tool


@tool
def run_python(code: str, timeout_s: float = 10.0, sandbox: str = "local") -> dict[str, Any]:
    """Run a Python program in the sandbox and return what it printed, its exit code and why it stopped.

    The sandbox has no network and limits time and memory; `stopped` names the limit that ended a run."""
    from ..sandbox import Limits, get_sandbox

    with get_sandbox(sandbox) as box:
        result = box.run(code, limits=Limits(wall_s=timeout_s, cpu_s=timeout_s))
    return {
        k: v for k, v in result.to_dict().items() if k in ("stdout", "stderr", "exit_code", "stopped", "duration_s")
    }
