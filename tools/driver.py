"""The test driver that runs inside the sandbox, beside the attempt (stdlib only; shipped as its own source).

It reads a one-line marker from stdin, loads `attempt.py`, calls the entry point named in `inputs.json` on each
case, and prints the marker followed by the JSON results. The harness imports `plain` from this same file, so
the JSON form of a value is defined once for both sides.
"""

import json
import sys
from typing import Any


def plain(value: Any, depth: int = 0) -> Any:
    """A JSON form of a return value that keeps the distinctions equality needs (tuple/list aside)."""
    if depth > 20:
        raise ValueError("result nested too deeply")
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else repr(value)
    if isinstance(value, (list, tuple)):
        return [plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {"__dict__": [[plain(k, depth + 1), plain(v, depth + 1)] for k, v in value.items()]}
    if isinstance(value, (set, frozenset)):
        return {"__set__": sorted((plain(v, depth + 1) for v in value), key=repr)}
    return {"__repr__": repr(value)[:200]}


def main() -> None:
    marker = sys.stdin.readline().strip()
    with open("inputs.json") as f:
        spec = json.load(f)
    entry = spec["entry_point"]
    namespace: dict[str, Any] = {"__name__": "attempt"}
    results: Any = []
    fn: Any = None
    try:
        with open("attempt.py") as f:
            exec(compile(f.read(), "attempt.py", "exec"), namespace)
        fn = namespace.get(entry)
        if not callable(fn):
            results = {"error": "NameError: the code defines no function named " + entry}
    except BaseException as e:
        results = {"error": "while loading the code: " + type(e).__name__ + ": " + str(e)[:300]}
    if isinstance(results, list):
        for args in spec["cases"]:
            try:
                results.append({"ok": plain(fn(*args))})
            except BaseException as e:
                results.append({"error": type(e).__name__ + ": " + str(e)[:300]})
    sys.stdout.write("\n" + marker + json.dumps(results) + "\n")


if __name__ == "__main__":
    main()
