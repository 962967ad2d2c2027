"""The verification harness for function tasks.

The attempt's code runs in the sandbox; a small driver calls its function on the hidden inputs and prints the
return values as JSON. The harness, outside the sandbox, compares them with the outputs of the trusted reference.
The expected outputs never enter the sandbox, so the only way for an attempt to be judged correct is to return
the right values: printing text, exiting with status 0, or raising SystemExit cannot forge a pass.
"""

from __future__ import annotations

import json
import math
import secrets
from typing import Any

from ..sandbox import Limits, Sandbox
from .tasks.base import Verdict

_DRIVER = r"""
import json, sys
_marker = sys.stdin.readline().strip()
def _plain(value, depth=0):
    if depth > 20:
        raise ValueError("result nested too deeply")
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else repr(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {"__dict__": [[_plain(k, depth + 1), _plain(v, depth + 1)] for k, v in value.items()]}
    if isinstance(value, (set, frozenset)):
        return {"__set__": sorted((_plain(v, depth + 1) for v in value), key=repr)}
    return {"__repr__": repr(value)[:200]}
with open("inputs.json") as _f:
    _cases = json.load(_f)
_ns = {"__name__": "attempt"}
_results = []
try:
    with open("attempt.py") as _f:
        exec(compile(_f.read(), "attempt.py", "exec"), _ns)
    _fn = _ns.get(ENTRY)
    if not callable(_fn):
        _results = {"error": "NameError: the code defines no function named " + ENTRY}
except BaseException as _e:
    _results = {"error": "while loading the code: " + type(_e).__name__ + ": " + str(_e)[:300]}
if isinstance(_results, list):
    for _args in _cases:
        try:
            _results.append({"ok": _plain(_fn(*_args))})
        except BaseException as _e:
            _results.append({"error": type(_e).__name__ + ": " + str(_e)[:300]})
sys.stdout.write("\n" + _marker + json.dumps(_results) + "\n")
"""


def plain(value: Any) -> Any:
    """The JSON form the driver gives a value (must mirror `_plain` in the driver)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {"__dict__": [[plain(k), plain(v)] for k, v in value.items()]}
    if isinstance(value, (set, frozenset)):
        return {"__set__": sorted((plain(v) for v in value), key=repr)}
    return {"__repr__": repr(value)[:200]}


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
    driver = _DRIVER.replace("ENTRY", json.dumps(entry_point))
    result = sandbox.run(
        driver,
        stdin=marker + "\n",
        files={"attempt.py": code, "inputs.json": json.dumps(inputs)},
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
