"""Plugins: the built-ins register through entry points like any plugin; a plugin file or an installed package
adds task families and tools; a broken plugin is reported and the others still load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import TINY_RUN, tiny_run_args, trace_of

from autodidact import plugins
from autodidact.agent.cli import main

EXAMPLE = Path(__file__).parent.parent / "examples" / "autodidact-example-plugin"
EXAMPLE_FILE = EXAMPLE / "autodidact_example" / "__init__.py"


@pytest.fixture(autouse=True)
def _fresh_registry(monkeypatch):
    """Each test discovers plugins anew, and leaves no plugin file loaded behind it."""
    monkeypatch.setattr(plugins, "_files", [])
    monkeypatch.setattr(plugins, "_found", {})


def _listed(capsys, *argv: str) -> dict[str, dict]:
    capsys.readouterr()
    assert main([*argv, "--json"]) == 0
    return {row["name"]: row for row in json.loads(capsys.readouterr().out)}


def test_the_built_ins_register_through_entry_points(capsys):
    families = _listed(capsys, "tasks")
    assert {"python-functions", "addition"} <= set(families)
    assert families["addition"]["origin"].startswith("autodidact ") and families["addition"]["levels"] == "1-12"
    tools = _listed(capsys, "tools")
    assert {"train_sft", "train_dpo", "train_grpo", "run_python"} <= set(tools)
    assert {p.name for p in plugins.discover("sandboxes")} >= {"local", "docker", "e2b"}
    assert {p.name for p in plugins.discover("trainers")} >= {"sft", "dpo", "grpo"}


def test_the_run_python_tool_runs_code_in_the_sandbox():
    from autodidact.tools.run_python import run_python

    out = run_python.invoke({"code": "print(6 * 7)"})
    assert out["stdout"].strip() == "42" and out["exit_code"] == 0
    out = run_python.invoke({"code": "while True: pass", "timeout_s": 1})
    assert out["stopped"] in ("timeout", "cpu_limit")


def test_a_plugin_file_adds_its_family_and_tool(capsys):
    families = _listed(capsys, "tasks", "--plugin", str(EXAMPLE_FILE))
    assert families["multiples"]["origin"] == str(EXAMPLE_FILE) and "python-functions" in families
    tools = _listed(capsys, "tools", "--plugin", str(EXAMPLE_FILE))
    assert tools["count_multiples"]["origin"] == str(EXAMPLE_FILE)
    assert tools["count_multiples"]["description"].startswith("Count how many integers")


def test_the_example_family_verifies_in_the_sandbox():
    from autodidact.sandbox import LocalSandbox
    from autodidact.tools.tasks import get_family, verify_each

    plugins.load_file(EXAMPLE_FILE)
    family = get_family("multiples")
    tasks = family.generate(split="train", difficulty=2, n=3, seed=0)
    assert len(tasks) == 3 and not {t.prompt for t in tasks} & {t.prompt for t in family.heldout(n=30, seed=0)}
    wrong = "def count_multiples(xs):\n    return len(xs)\n"
    with LocalSandbox(workers=1) as box:
        verdicts = verify_each([(t, t.reference) for t in tasks] + [(t, wrong) for t in tasks], box)
    assert [v.passed for v in verdicts] == [True] * 3 + [False] * 3


def test_a_broken_plugin_is_reported_and_the_others_still_load(tmp_path, capsys, monkeypatch):
    bad_file = tmp_path / "bad_plugin.py"
    bad_file.write_text("raise RuntimeError('this plugin is broken on purpose')\n")
    # An installed distribution whose entry point names a module that does not exist.
    dist = tmp_path / "site" / "broken_dist-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-dist\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[autodidact.tasks]\nghost = no_such_module:Ghost\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    capsys.readouterr()
    assert main(["tasks", "--plugin", str(bad_file), "--plugin", str(EXAMPLE_FILE)]) == 0
    out = capsys.readouterr().out
    assert "ghost" in out and "ModuleNotFoundError" in out and "broken-dist 0.1" in out
    assert "bad_plugin" in out and "this plugin is broken on purpose" in out
    assert "multiples" in out and "python-functions" in out  # the others still load
    with pytest.raises(ValueError, match="unknown task family 'ghost'"):
        from autodidact.tools.tasks import get_family

        get_family("ghost")


def test_a_missing_plugin_file_is_a_one_line_error(tmp_path, capsys):
    assert main(["tasks", "--plugin", str(tmp_path / "nope.py")]) == 2
    err = capsys.readouterr().err.strip()
    assert "nope.py does not exist" in err and len(err.splitlines()) == 1


@pytest.mark.install
def test_a_fresh_virtualenv_with_the_example_installed_lists_and_runs_it(warm_model, tmp_path):
    """The example package installed into a new virtualenv (which sees this environment's packages, pip and
    setuptools included, through a .pth file, as nothing may be downloaded) shows its family and tool, and a
    round runs on its family."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    parent = sysconfig.get_paths()["purelib"]
    (Path(purelib) / "parent-env.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index", str(EXAMPLE)],
        check=True, capture_output=True,
    )  # fmt: skip
    env = {**os.environ, "PYTHONPATH": ""}

    def cli(*argv: str) -> str:
        done = subprocess.run(
            [str(python), "-m", "autodidact.agent.cli", *argv], capture_output=True, text=True, env=env, cwd=tmp_path
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    listed = cli("tasks")
    assert "multiples" in listed and "autodidact-example-plugin 0.1.0" in listed
    assert "count_multiples" in cli("tools")
    run_dir = tmp_path / "run"
    args = [a for a in TINY_RUN if a != "--quiet"]
    cli("run", "count multiples", "--tasks", "multiples", "--model", str(warm_model), "--run-dir", str(run_dir),
        "--rounds", "1", *args, "--quiet")  # fmt: skip
    trace = json.loads(cli("trace", str(run_dir), "--json"))
    assert trace["rounds"][0]["plan"]["family"] == "multiples"
    stages = [d["stage"] for d in trace["decisions"]]
    assert stages[:2] == ["plan", "acquire"]  # the round ran on the plugin's tasks, through the gates
    attempts = run_dir / trace["rounds"][0]["files"]["attempts"]
    assert attempts.exists() and all(json.loads(line)["task_id"].startswith("multiples-") for line in attempts.open())


def test_a_plugin_trainer_trains_a_round(warm_model, tmp_path, capsys):
    """A trainer from a plugin file is listed as a tool, chosen with --trainer, and trains the round's candidate."""
    marker = tmp_path / "called"
    plugin = tmp_path / "my_trainer.py"
    plugin.write_text(
        "from pathlib import Path\n"
        "from autodidact.trainers import SFTParams, Trainer, train_sft\n"
        "def train(*, items, verify_all=None, **kw):\n"
        f"    Path({str(marker)!r}).write_text(str(len(items)))\n"
        "    return train_sft(rows=items, **kw)\n"
        "PLUGINS = {'trainers': {'my_sft': Trainer('my_sft', 'SFT, counted.', SFTParams, 'selected', train)}}\n"
    )
    assert "train_my_sft" in _listed(capsys, "tools", "--plugin", str(plugin))
    run_dir = tmp_path / "run"
    assert main([*tiny_run_args(warm_model, run_dir, "--trainer", "my_sft", "--plugin", str(plugin), rounds=1)]) == 0
    (record,) = trace_of(run_dir, capsys)["rounds"]
    trained = record["counts"]["selected"] + record["counts"]["frontier_copies"]  # every line of SFT's file
    assert record["method"] == "my_sft" and int(marker.read_text()) == trained > 0
    assert record["train"]["steps"] > 0
    assert main(["run", "g", "--trainer", "nope", "--run-dir", str(tmp_path / "other")]) == 2
    assert "choose auto or one of" in capsys.readouterr().err
