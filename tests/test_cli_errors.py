"""Bad input: one line naming the problem and the fix, a non-zero exit, and nothing changed on disk."""

import hashlib
import json
from pathlib import Path

import pytest

from autodidact.agent.cli import main


def snapshot(path: Path) -> dict[str, str]:
    if path.is_file():
        return {".": hashlib.sha256(path.read_bytes()).hexdigest()}
    if not path.exists():
        return {}
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(path.rglob("*"))
    }


def run_cli(args, capsys, watched: Path):
    before = snapshot(watched)
    code = main(args)
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert len(err.splitlines()) == 1, err
    assert err.startswith("autodidact: error: ")
    assert snapshot(watched) == before
    return err


def test_empty_goal(tmp_path, capsys):
    err = run_cli(["run", "   ", "--run-dir", str(tmp_path / "r")], capsys, tmp_path)
    assert "goal is empty" in err and not (tmp_path / "r").exists()


def test_unknown_task_family(tmp_path, capsys):
    err = run_cli(
        ["run", "write python functions", "--tasks", "chess", "--run-dir", str(tmp_path / "r")], capsys, tmp_path
    )
    assert "unknown task family chess" in err and "python-functions" in err


def test_bad_levels(tmp_path, capsys):
    err = run_cli(
        ["run", "write python functions", "--levels", "0,9", "--run-dir", str(tmp_path / "r")], capsys, tmp_path
    )
    assert "--levels" in err


def test_model_path_that_does_not_exist(tmp_path, capsys):
    err = run_cli(
        ["run", "write python functions", "--model", str(tmp_path / "nope"), "--run-dir", str(tmp_path / "r")],
        capsys,
        tmp_path,
    )
    assert "no such model directory" in err and not (tmp_path / "r").exists()


def test_model_dir_without_config(tmp_path, capsys):
    (tmp_path / "m").mkdir()
    err = run_cli(
        ["run", "write python functions", "--model", str(tmp_path / "m"), "--run-dir", str(tmp_path / "r")],
        capsys,
        tmp_path,
    )
    assert "config.json" in err


def test_corrupt_checkpoint(tmp_path, capsys, tiny_model):
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for f in tiny_model.iterdir():
        (corrupt / f.name).write_bytes(f.read_bytes())
    (corrupt / "model.safetensors").write_bytes(b"\x00garbage" * 100)
    err = run_cli(
        ["run", "write python functions", "--model", str(corrupt), "--run-dir", str(tmp_path / "r")], capsys, tmp_path
    )
    assert "cannot load the model" in err and not (tmp_path / "r").exists()


def test_run_dir_that_is_a_file(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("keep me")
    err = run_cli(["run", "write python functions", "--run-dir", str(f)], capsys, tmp_path)
    assert "is a file" in err and f.read_text() == "keep me"


def test_run_dir_of_another_goal(tmp_path, capsys):
    d = tmp_path / "run"
    d.mkdir()
    (d / "run.json").write_text(json.dumps({"goal": "other goal", "config": {}}))
    err = run_cli(["run", "write python functions", "--run-dir", str(d)], capsys, tmp_path)
    assert "another run" in err and "other goal" in err


def test_run_dir_that_is_not_empty(tmp_path, capsys):
    d = tmp_path / "stuff"
    d.mkdir()
    (d / "notes.txt").write_text("x")
    err = run_cli(["run", "write python functions", "--run-dir", str(d)], capsys, tmp_path)
    assert "not empty" in err


@pytest.mark.parametrize("kind", ["missing", "empty", "file"])
def test_resume_of_something_that_is_not_a_run(tmp_path, capsys, kind):
    target = tmp_path / "x"
    if kind == "empty":
        target.mkdir()
    elif kind == "file":
        target.write_text("x")
    err = run_cli(["resume", str(target)], capsys, tmp_path)
    assert "autodidact run" in err or "not an autodidact run" in err


def test_trace_of_something_that_is_not_a_run(tmp_path, capsys):
    err = run_cli(["trace", str(tmp_path)], capsys, tmp_path)
    assert "not an autodidact run" in err


def test_exec_prints_json(tmp_path, capsys):
    program = tmp_path / "p.py"
    program.write_text("print('hello')")
    assert main(["exec", str(program), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["stdout"] == "hello\n" and out["exit_code"] == 0 and out["stopped"] is None
    assert set(out) == {"stdout", "stderr", "exit_code", "duration_s", "stopped", "files", "isolation"}
    assert "session" in out["isolation"]


def test_exec_reports_a_timeout(tmp_path, capsys):
    program = tmp_path / "p.py"
    program.write_text("import time\ntime.sleep(30)")
    assert main(["exec", str(program), "--json", "--timeout", "1"]) == 1
    assert json.loads(capsys.readouterr().out)["stopped"] == "timeout"


def test_a_sandbox_that_cannot_run_here_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("E2B_API_KEY", raising=False)
    program = tmp_path / "p.py"
    program.write_text("print(1)")
    err = run_cli(["exec", str(program), "--sandbox", "e2b"], capsys, tmp_path)
    assert "E2B_API_KEY is not set" in err and "--sandbox local" in err
    err = run_cli(["run", "write functions", "--sandbox", "e2b", "--run-dir", str(tmp_path / "r")], capsys, tmp_path)
    assert "E2B_API_KEY is not set" in err and not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("flag", "words"),
    [
        (["--train-param", "dpo.beta"], "METHOD.NAME=VALUE"),
        (["--train-param", "ppo.beta=1"], "METHOD.NAME=VALUE"),
        (["--train-param", "dpo.gamma=1"], "dpo has no hyper-parameter 'gamma'"),
        (["--train-param", "sft.epochs=many"], "epochs takes a float"),
        (["--budget", "wall=soon"], "--budget wall=soon"),
        (["--budget", "coffee=3"], "KEY one of wall, sandbox, tokens, steps"),
        (["--budget", "wall=-5m"], "a VALUE of 0 (no limit) or more"),
    ],
)
def test_bad_trainer_and_budget_options(flag, words, tmp_path, capsys):
    err = run_cli(["run", "write python functions", "--run-dir", str(tmp_path / "r"), *flag], capsys, tmp_path)
    assert words in err and not (tmp_path / "r").exists()


def test_rollback_needs_a_finished_run_with_an_ancestor(tmp_path, capsys):
    err = run_cli(["rollback", str(tmp_path / "none")], capsys, tmp_path)
    assert "not a directory" in err


def test_budget_and_train_params_are_parsed():
    from autodidact.agent.cli.run_commands import parse_budget, parse_train_params

    assert parse_budget("wall=30m, sandbox=600s,tokens=2e6,steps=500") == {
        "budget.wall_s": 1800.0,
        "budget.sandbox_s": 600.0,
        "budget.tokens": 2e6,
        "budget.train_steps": 500.0,
    }
    assert parse_budget("wall=0") == {"budget.wall_s": 0.0}  # no wall budget
    assert parse_train_params(["dpo.beta=0.2", "grpo.num_generations=8", "sft.bf16=false"]) == {
        "dpo": {"beta": 0.2},
        "grpo": {"num_generations": 8},
        "sft": {"bf16": False},
    }


@pytest.mark.parametrize(
    ("extra", "environ", "expected"),
    [
        (["--cluster", "nonsense"], {}, "--cluster nonsense: choose local, ray"),
        (["--cluster", "ray"], {"RAY_ADDRESS": "127.0.0.1:1"}, "nothing answers at 127.0.0.1:1"),
        (["--cluster", "ray://127.0.0.1:1"], {}, "nothing answers at ray://127.0.0.1:1"),
        (
            [
                "--cluster",
                "ray",
                "--backend",
                "openai",
                "--backend-url",
                "http://127.0.0.1:1/v1",
                "--backend-model",
                "m",
            ],
            {},
            "--backend openai samples on its own server: use --cluster local",
        ),
    ],
)
def test_a_cluster_that_cannot_be_used(extra, environ, expected, tiny_model, tmp_path, capsys, monkeypatch):
    """Refused before the run directory exists; an address nothing listens at is refused at once (Ray itself would
    retry it for minutes)."""
    pytest.importorskip("ray", reason="Ray is not installed: pip install 'autodidact[ray]'")
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    args = ["run", "write python functions", "--model", str(tiny_model), "--run-dir", str(tmp_path / "r"), *extra]
    err = run_cli(args, capsys, tmp_path)
    assert expected in err and not (tmp_path / "r").exists()


def test_cluster_ray_without_ray_installed_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    err = run_cli(
        ["run", "write python functions", "--cluster", "ray", "--run-dir", str(tmp_path / "r")], capsys, tmp_path
    )
    assert "needs Ray: pip install 'autodidact[ray]'" in err


def test_every_help_page_renders(capsys):
    """argparse expands each help string with %-formatting, so a stray '%' breaks `--help` (it did: '95% i...')."""
    from autodidact.agent.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if a.choices and isinstance(a.choices, dict)).choices
    with pytest.raises(SystemExit) as top:
        main(["--help"])
    assert top.value.code == 0
    assert "eval" in capsys.readouterr().out
    for name in commands:
        with pytest.raises(SystemExit) as done:
            main([name, "--help"])
        assert done.value.code == 0, name
        assert "usage: autodidact " + name in capsys.readouterr().out
