"""The verification harness for function tasks.

The attempt's code runs in the sandbox; a small driver calls its function on the hidden inputs and prints the
return values as JSON. The driver is `driver.py`. The harness, outside the sandbox, compares them with the outputs of the trusted reference.
The expected outputs never enter the sandbox, so the only way for an attempt to be judged correct is to return
the right values: printing text, exiting with status 0, or raising SystemExit cannot forge a pass.
"""

from __future__ import annotations

import json
import math
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..sandbox import Limits, Sandbox
from . import driver
from .driver import plain

__all__ = ["Verdict", "plain", "same", "show", "call_text", "verify_function"]


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """The harness's judgement of one attempt, decided from what it observed in the sandbox."""

    passed: bool
    feedback: str
    """Human-readable reason (the first failing case, a traceback, a limit); shown to the model in refine."""
    stopped: str | None = None
    duration_s: float = 0.0


DRIVER_SOURCE = Path(driver.__file__).read_text(encoding="utf-8")


def same(got: Any, want: Any) -> bool:
    """Strict equality of JSON forms: bool is not int, floats compare with a relative tolerance."""
    if isinstance(want, bool) or isinstance(got, bool):
        return type(got) is type(want) and got == want
    if isinstance(want, float) or isinstance(got, float):
        if not isinstance(got, (int, float)) or not isinstance(want, (int, float)):
            return False
        return math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9)
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(map(same, got, want))
    if isinstance(want, dict):
        if not isinstance(got, dict) or got.keys() != want.keys():
            return False
        if "__dict__" in want:  # dict equality ignores order
            g = {json.dumps(k, sort_keys=True): v for k, v in got["__dict__"]}
            w = {json.dumps(k, sort_keys=True): v for k, v in want["__dict__"]}
            return g.keys() == w.keys() and all(same(g[k], w[k]) for k in w)
        return all(same(got[k], want[k]) for k in want)
    return type(got) is type(want) and got == want


def show(value: Any) -> str:
    """A JSON form back as Python-looking text, for feedback."""
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, dict):
        if "__dict__" in value:
            return "{" + ", ".join(f"{show(k)}: {show(v)}" for k, v in value["__dict__"]) + "}"
        if "__set__" in value:
            return "{" + ", ".join(show(v) for v in value["__set__"]) + "}" if value["__set__"] else "set()"
        return str(value.get("__repr__", value))
    return repr(value)


def call_text(entry_point: str, args: list[Any]) -> str:
    return f"{entry_point}({', '.join(repr(a) for a in args)})"


def verify_function(
    *,
    code: str,
    entry_point: str,
    inputs: list[list[Any]],
    expected: list[Any],
    sandbox: Sandbox,
    limits: Limits | None = None,
) -> Verdict:
    """Run `entry_point` from `code` on `inputs` in the sandbox; pass only if every output equals `expected`."""
    if not code.strip():
        return Verdict(passed=False, feedback="The reply contains no Python code block.")
    marker = "@@result-" + secrets.token_hex(16) + "@@"
    result = sandbox.run(
        DRIVER_SOURCE,
        stdin=marker + "\n",
        files={"attempt.py": code, "inputs.json": json.dumps({"entry_point": entry_point, "cases": inputs})},
        limits=limits or Limits(cpu_s=5, wall_s=10),
    )
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith(marker)]
    base = {"stopped": result.stopped, "duration_s": result.duration_s}
    if result.stopped:
        return Verdict(passed=False, feedback=f"The run was stopped: {result.stopped}.", **base)
    if not lines:
        tail = result.stderr.strip()[-800:] or f"exit status {result.exit_code}, no result"
        return Verdict(passed=False, feedback=f"The program did not finish its tests:\n{tail}", **base)
    try:
        outcome = json.loads(lines[-1][len(marker) :])
    except json.JSONDecodeError:
        return Verdict(passed=False, feedback="The harness could not read the results.", **base)
    if isinstance(outcome, dict):
        return Verdict(passed=False, feedback=str(outcome.get("error", "error")), **base)
    if not isinstance(outcome, list) or len(outcome) != len(expected):
        return Verdict(passed=False, feedback="The harness could not read the results.", **base)
    for args, got, want in zip(inputs, outcome, expected, strict=True):
        call = call_text(entry_point, args)
        if not isinstance(got, dict) or ("ok" not in got and "error" not in got):
            return Verdict(passed=False, feedback="The harness could not read the results.", **base)
        if "error" in got:
            return Verdict(passed=False, feedback=f"{call} raised {got['error']}", **base)
        if not same(got["ok"], want):
            return Verdict(passed=False, feedback=f"{call} returned {show(got['ok'])}, expected {show(want)}", **base)
    return Verdict(passed=True, feedback=f"All {len(expected)} tests passed.", **base)
