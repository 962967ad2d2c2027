"""Transfer beyond the run's own templates: HumanEval from the installed wheel, verified in the sandbox and kept
out of training; `autodidact eval` side by side; a run that reports its transfer benchmark."""

from __future__ import annotations

import json

import pytest
from conftest import tiny_run_args, trace_of

from autodidact.agent.cli import main
from autodidact.agent.decontaminate import Decontaminator
from autodidact.agent.run import open_run
from autodidact.agent.rundir import read_jsonl
from autodidact.agent.transfer import FINAL_PER_BASE, transfer_seconds
from autodidact.sandbox import LocalSandbox
from autodidact.tools.benchmarks import humaneval, protected
from autodidact.tools.tasks import Task, get_family

BENCH = [
    {"task_id": f"b{k}", "prompt": f"Write a Python function `plus_{k}(x)` that returns x plus {k}.",
     "entry_point": f"plus_{k}", "tests": [{"input": [i], "output": i + k} for i in range(3)]}
    for k in range(1, 7)
]  # fmt: skip


@pytest.fixture(scope="module")
def sandbox():
    box = LocalSandbox(workers=2)
    yield box
    box.close()


def test_humaneval_comes_from_the_wheel_and_its_solutions_pass_in_the_sandbox(sandbox):
    bench = humaneval()
    assert len(bench.tasks) == 164 and len({t.id for t in bench.tasks}) == 164
    for task in bench.tasks[:6]:
        reply = f"```python\n{task.reference}\n```"
        code = bench.family.extract(reply, task)
        assert bench.family.verify(task, code, sandbox).passed, task.id
        wrong = f"```python\ndef {task.entry_point}(*args):\n    return None\n```"
        assert not bench.family.verify(task, bench.family.extract(wrong, task), sandbox).passed
        assert "Complete this Python function" in task.prompt and "check(" not in task.prompt


def test_a_planted_copy_of_a_humaneval_problem_never_reaches_training():
    problem = humaneval().tasks[0]  # has_close_elements
    raw = protected(humaneval())
    clean = Decontaminator([], threshold=0.9, external=raw)
    planted = Task(**{**problem.to_dict(), "id": "practice-1", "family": "python-functions", "split": "train",
                      "prompt": raw[0].prompt})  # fmt: skip
    assert clean.overlap(planted, "") == "benchmark_prompt"
    ordinary = get_family("python-functions").generate(split="train", difficulty=1, n=3, seed=0)
    assert all(clean.overlap(t, t.reference) is None for t in ordinary)
    # The canonical solution under another task's prompt, with a comment and a line added: a near-copy.
    solution = "# a solution\n" + raw[0].reference + "\n    # done"
    assert clean.overlap(ordinary[0], solution) == "benchmark_solution"


def test_eval_prints_each_checkpoint_side_by_side(warm_model, tmp_path, capsys):
    bench = tmp_path / "bench.jsonl"
    bench.write_text("".join(json.dumps(r) + "\n" for r in BENCH))
    capsys.readouterr()
    assert main(["eval", str(warm_model), str(warm_model), "--bench", str(bench), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    first, second = shown["checkpoints"]
    assert first["n"] == second["n"] == len(BENCH) and first["passed"] == second["passed"]
    assert 0 <= first["ci"][0] <= first["passed"] / first["n"] <= first["ci"][1] <= 1
    assert second["gained"] == second["lost"] == 0 and second["p_value"] == 1.0
    assert main(["eval", str(warm_model), "--bench", str(bench)]) == 0
    assert "pass@1" in capsys.readouterr().out
    assert main(["eval", str(warm_model), "--bench", "heldout"]) == 2  # a model has no held-out set


def test_a_run_measures_its_start_and_final_champion_on_the_transfer_benchmark(warm_model, tmp_path, capsys):
    bench = tmp_path / "bench.jsonl"
    bench.write_text("".join(json.dumps(r) + "\n" for r in BENCH))
    run_dir = tmp_path / "run"
    args = [a for a in tiny_run_args(warm_model, run_dir, rounds=1) if a not in ("--transfer", "none")]
    assert main([*args, "--transfer", str(bench)]) == 0
    out = capsys.readouterr().out
    t = trace_of(run_dir, capsys)
    transfer = t["transfer"]
    assert transfer["bench"] == "bench" and transfer["n"] == len(BENCH)
    assert transfer["base_ci"][0] <= transfer["base_pass1"] / transfer["n"] <= transfer["base_ci"][1]
    assert "bench pass@1 (never trained on): start" in out
    assert (run_dir / "data" / "eval" / "transfer-base.jsonl").is_file()
    # The budget holds back more than the start's benchmark time for the final champion's (which can be slower).
    base_s = json.loads((run_dir / "data" / "eval" / "transfer.json").read_text())["base_s"]
    held_back = transfer_seconds(open_run(run_dir))[1]
    assert held_back == pytest.approx(base_s * FINAL_PER_BASE) and FINAL_PER_BASE > 1
    capsys.readouterr()
    assert main(["eval", str(run_dir), "--bench", str(bench), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["checkpoints"]
    assert rows[0]["checkpoint"].endswith(":start") and rows[0]["passed"] == transfer["base_pass1"]
    assert main(["eval", str(run_dir), "--bench", "heldout", "--json"]) == 0  # the run's own held-out results
    (start, *_) = json.loads(capsys.readouterr().out)["checkpoints"]
    base = read_jsonl(run_dir / "data" / "eval" / "base.jsonl")
    assert (start["passed"], start["n"]) == (sum(r["passed"] for r in base), len(base))
    # The run's task file scores a bare model (here the run's own start model) as the run scored it.
    assert main(["eval", str(warm_model), "--bench", str(run_dir / "heldout.jsonl"), "--json"]) == 0
    (bare,) = json.loads(capsys.readouterr().out)["checkpoints"]
    assert (bare["passed"], bare["n"]) == (start["passed"], start["n"])


def test_only_a_file_of_one_familys_tasks_is_read_as_that_familys_benchmark(tmp_path):
    from autodidact.agent.cli.eval_command import run_task_file
    from autodidact.agent.config import SamplingConfig

    addition = get_family("addition").heldout(n=3, seed=0)
    functions = get_family("python-functions").heldout(n=3, seed=0)

    def written(name: str, rows: list) -> str:
        path = tmp_path / name
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        return str(path)

    bench = run_task_file(written("heldout.jsonl", [t.to_dict() for t in addition]))
    assert bench is not None and [t.id for t in bench.tasks] == [t.id for t in addition]
    assert bench.max_new_tokens == get_family("addition").max_new_tokens  # the family's own length
    bench = run_task_file(written("guard.jsonl", [t.to_dict() for t in functions]))
    assert bench is not None and bench.max_new_tokens == SamplingConfig().max_new_tokens  # no length of its own
    assert run_task_file(written("mixed.jsonl", [t.to_dict() for t in addition + functions])) is None
    assert run_task_file(written("user.jsonl", BENCH)) is None  # a user's task file is read by the jsonl family
    assert run_task_file(written("odd.jsonl", [[1, 2]])) is None
    assert run_task_file(written("other.jsonl", [dict(functions[0].to_dict(), family="nonesuch")])) is None
    assert run_task_file(str(tmp_path / "absent.jsonl")) is None
