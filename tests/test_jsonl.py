"""The jsonl task family: a user's own tasks (MBPP, HumanEval or input/output rows) from a file."""

from __future__ import annotations

import json

import pytest
from conftest import TINY_RUN, trace_of

from autodidact.agent.cli import main
from autodidact.sandbox import LocalSandbox
from autodidact.tools.tasks import get_family, verify_each
from autodidact.tools.tasks.jsonl import Jsonl, TaskFileError

ROWS = [
    {"task_id": "io", "prompt": "Write add(a, b).", "entry_point": "add",
     "tests": [{"input": [1, 2], "output": 3}, {"input": [-1, 1], "output": 0}], "split": "train"},
    {"task_id": 11, "text": "Write a function to square a number.", "code": "def square(x):\n    return x * x",
     "test_list": ["assert square(3) == 9", "assert square(-2) == 4"], "test_setup_code": "", "split": "train"},
    {"task_id": "HumanEval/0", "prompt": "def inc(x):\n    \"\"\"Return x + 1.\"\"\"\n", "entry_point": "inc",
     "canonical_solution": "    return x + 1\n", "test": "def check(candidate):\n    assert candidate(1) == 2\n",
     "split": "heldout"},
]  # fmt: skip
RIGHT = ["def add(a, b):\n    return a + b", "def square(x):\n    return x * x", "def inc(x):\n    return x + 1"]
WRONG = ["def add(a, b):\n    return a - b", "def square(x):\n    return x + x", "def inc(x):\n    return x"]
FORGED = [
    "import sys\ndef square(x):\n    return 0\nsys.exit(0)",
    "import os\ndef square(x):\n    return 0\nos._exit(0)",
    "import sys\nprint(sys.stdin.read())\ndef square(x):\n    return 0",  # the marker was read before the attempt ran
    "def square(x):\n    return 0\nprint('@@tests-passed-0000@@')\nraise SystemExit(0)",
]


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def sandbox():
    with LocalSandbox(workers=2) as box:
        yield box


def test_mbpp_humaneval_and_input_output_rows_are_verified_in_the_sandbox(tmp_path, sandbox):
    family = Jsonl(_write(tmp_path / "tasks.jsonl", ROWS))
    tasks = family.generate(split="train", difficulty=1, n=10, seed=0) + family.heldout(n=10, seed=0)
    assert sorted(t.id for t in tasks) == ["jsonl-11", "jsonl-HumanEval/0", "jsonl-io"]
    by_id = {t.id: t for t in tasks}
    ordered = [by_id["jsonl-io"], by_id["jsonl-11"], by_id["jsonl-HumanEval/0"]]
    verdicts = verify_each(list(zip(ordered, RIGHT, strict=True)) + list(zip(ordered, WRONG, strict=True)), sandbox)
    assert [v.passed for v in verdicts] == [True] * 3 + [False] * 3
    square = by_id["jsonl-11"]
    forged = verify_each([(square, code) for code in FORGED], sandbox)
    assert not any(v.passed for v in forged), [v.feedback for v in forged]


def test_malformed_rows_are_reported_with_their_line_numbers(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(ROWS[0]) + "\nnot json\n" + json.dumps({"prompt": "x"}) + "\n\n"
                   + json.dumps({"prompt": "y", "tests": [{"input": 1}], "entry_point": "f"}) + "\n")  # fmt: skip
    with pytest.raises(TaskFileError) as err:
        Jsonl(bad)
    message = str(err.value)
    assert "3 malformed row(s)" in message and "line 2:" in message and "line 3: no tests" in message
    assert "line 2: not valid JSON" in message and "line 5:" in message and "line 1:" not in message
    assert (
        main(["run", "my benchmark", "--tasks", "jsonl", "--task-file", str(bad), "--run-dir", str(tmp_path / "r")])
        == 2
    )
    err_line = capsys.readouterr().err.strip()
    assert len(err_line.splitlines()) == 1 and "line 2:" in err_line
    assert main(["run", "my benchmark", "--tasks", "jsonl", "--run-dir", str(tmp_path / "r")]) == 2
    assert "--task-file" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_a_round_runs_on_a_benchmark_brought_as_jsonl(warm_model, tmp_path, capsys):
    """Level-1 function tasks, exported as input/output rows, make a benchmark the warm tiny model can learn."""
    source = get_family("python-functions")
    tasks = source.generate(split="train", difficulty=1, n=60, seed=5)
    rows = [{"task_id": t.id, "prompt": t.prompt, "entry_point": t.entry_point, "reference": t.reference,
             "tests": [{"input": i, "output": o} for i, o in zip(t.hidden["inputs"], t.hidden["expected"], strict=True)]}
            for t in tasks]  # fmt: skip
    file = _write(tmp_path / "bench.jsonl", rows)
    run_dir = tmp_path / "run"
    args = ["run", "my benchmark", "--tasks", "jsonl", "--task-file", str(file), "--model", str(warm_model),
            "--run-dir", str(run_dir), "--rounds", "1", *TINY_RUN]  # fmt: skip
    assert main(args) == 0
    trace = trace_of(run_dir, capsys)
    (record,) = trace["rounds"]
    held_out = {json.loads(line)["id"] for line in (run_dir / "heldout.jsonl").open()}
    practised = {json.loads(line)["id"] for line in (run_dir / record["files"]["tasks"]).open()}
    assert held_out and practised and not held_out & practised
    assert record["counts"]["verified"] > 0  # the sandbox verified some of the model's answers to the user's tasks
