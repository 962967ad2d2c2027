"""Verification decides from observed return values; nothing the attempt prints or exits with forges a pass."""

import random

import pytest

from autodidact.sandbox import LocalSandbox
from autodidact.tools.tasks.function_templates import TEMPLATES
from autodidact.tools.tasks.python_functions import PythonFunctions, make_task


@pytest.fixture(scope="module")
def sandbox():
    return LocalSandbox()


@pytest.fixture(scope="module")
def task():
    template = next(t for t in TEMPLATES if t.name == "sum_evens")
    return make_task(template, random.Random(3), "train")


def verify(task, code, sandbox):
    return PythonFunctions().verify(task, code, sandbox)


def test_reference_passes_and_wrong_fails(task, sandbox):
    assert verify(task, task.reference, sandbox).passed
    wrong = verify(task, "def sum_evens(xs):\n    return sum(xs)", sandbox)
    assert not wrong.passed and "expected" in wrong.feedback


@pytest.mark.parametrize(
    "forgery",
    [
        "import os\nprint('All tests passed')\nos._exit(0)",
        "import sys\nsys.exit(0)",
        "def sum_evens(xs):\n    raise SystemExit(0)",
        "def sum_evens(xs):\n    import os; os._exit(0)",
        # Printing a result line of its own: the marker is random and the values must still be right.
        "import sys\nprint('@@result-0@@[{\"ok\": 0}]')\nsys.exit(0)",
        # Reading the driver's stdin to steal the marker, then printing plausible results.
        "import sys\nm = sys.stdin.readline().strip()\nprint(m + '[' + ','.join(['{\"ok\": 0}'] * 8) + ']')\nsys.exit(0)",
        # Returning an object that claims equality with everything.
        "class A:\n    def __eq__(self, o): return True\ndef sum_evens(xs):\n    return A()",
        "import builtins\nbuiltins.sum = lambda *a, **k: 0\ndef sum_evens(xs):\n    return 0",
    ],
)
def test_forgeries_do_not_pass(task, sandbox, forgery):
    assert not verify(task, forgery, sandbox).passed


def test_bool_is_not_int(sandbox):
    template = next(t for t in TEMPLATES if t.name == "is_even")
    task = make_task(template, random.Random(0), "train")
    assert verify(task, task.reference, sandbox).passed
    as_int = "def is_even(n):\n    return int(n % 2 == 0)"
    assert not verify(task, as_int, sandbox).passed


def test_infinite_loop_is_a_failure_not_a_hang(task, sandbox):
    v = verify(task, "def sum_evens(xs):\n    while True:\n        pass", sandbox)
    assert not v.passed and v.stopped in ("cpu_limit", "timeout")


def test_missing_function_and_empty_code(task, sandbox):
    assert "no function named" in verify(task, "def other(xs):\n    return 0", sandbox).feedback
    assert not verify(task, "", sandbox).passed
