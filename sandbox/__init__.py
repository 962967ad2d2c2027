"""Where untrusted code runs: one `Sandbox` contract and its backends."""

from .base import ExecResult, Limits, Sandbox
from .local import LocalSandbox

BACKENDS: dict[str, type[Sandbox]] = {"local": LocalSandbox}


def available_backends() -> list[str]:
    """The backends that can run on this machine now."""
    return [name for name, cls in BACKENDS.items() if cls.available()[0]]


def get_sandbox(name: str = "local") -> Sandbox:
    """Build the sandbox backend called `name`."""
    try:
        return BACKENDS[name]()
    except KeyError:
        raise ValueError(f"unknown sandbox {name!r}; choose one of: {', '.join(sorted(BACKENDS))}") from None


__all__ = ["ExecResult", "Limits", "Sandbox", "LocalSandbox", "BACKENDS", "get_sandbox", "available_backends"]
