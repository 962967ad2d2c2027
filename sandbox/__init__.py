"""Where untrusted code runs: one `Sandbox` contract and its backends (local fork servers, Docker, E2B)."""

from collections.abc import Mapping

from ..plugins import Registry
from .base import ExecResult, Limits, Sandbox
from .docker_sandbox import DockerSandbox
from .e2b_sandbox import E2BSandbox
from .local import LocalSandbox

BACKENDS: Mapping[str, type[Sandbox]] = Registry("sandboxes")
"""Every sandbox backend, built-in or plugin, by name (entry point group `autodidact.sandboxes`)."""


def available_backends() -> list[str]:
    """The backends that can run on this machine now."""
    return [name for name, cls in BACKENDS.items() if cls.available()[0]]


def get_sandbox(name: str = "local") -> Sandbox:
    """Build the sandbox backend called `name`, or say why it cannot run here."""
    if name not in BACKENDS:
        raise ValueError(f"unknown sandbox {name!r}; choose one of: {', '.join(BACKENDS)}")
    ok, why = BACKENDS[name].available()
    if not ok:
        raise ValueError(f"the {name} sandbox cannot run here: {why}")
    return BACKENDS[name]()


__all__ = [
    "ExecResult",
    "Limits",
    "Sandbox",
    "LocalSandbox",
    "DockerSandbox",
    "E2BSandbox",
    "BACKENDS",
    "available_backends",
    "get_sandbox",
]
