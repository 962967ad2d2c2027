"""A run directory over its life: one writer at a time, read-only readers, damage named and repaired, a champion
without weights reported, signals that stop cleanly, and `exec` refusing what is not a program."""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import assert_each_stage_decided_once, signal_tiny_run, tiny_run_args
from conftest import trace_of as trace

from autodidact.agent.cli import main


@pytest.fixture
def run_copy(finished_run, tmp_path) -> Path:
    """A copy of the finished tiny run that a test may damage."""
    copy = tmp_path / "run"
    shutil.copytree(finished_run, copy)
    return copy


def fingerprint(run_dir: Path) -> dict[str, str]:
    """Every file of the run by content, but SQLite's WAL index (`-shm`: shared memory in which every reader,
    read-only ones too, marks what it reads) and the report (what `report` writes)."""
    return {
        str(p.relative_to(run_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(run_dir.rglob("*"))
        if p.is_file() and p.name != "report.html" and not p.name.endswith("-shm")
    }


def error_of(capsys, *argv: str) -> str:
    capsys.readouterr()
    assert main(list(argv)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("autodidact: error: "), err
    return err


HOLD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from autodidact.agent.rundir import RunDir
    RunDir(Path(sys.argv[1])).lock("run")
    print("locked", flush=True)
    time.sleep(120)
    """
)


def test_a_second_writer_is_refused_with_the_holders_pid_and_a_dead_holders_lock_is_taken_over(run_copy, capsys):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(run_copy)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        for command in (["resume", str(run_copy)], ["rollback", str(run_copy)], ["repair", str(run_copy)]):
            err = error_of(capsys, *command)
            assert f"is in use by process {holder.pid} (autodidact run)" in err and f"kill -INT {holder.pid}" in err
        # Readers are not writers: trace works while the run is held.
        assert trace(run_copy, capsys)["status"] == "finished"
    finally:
        holder.kill()
        holder.wait()
    # The kernel let go of the dead holder's lock: the next writer takes it.
    capsys.readouterr()
    assert main(["resume", str(run_copy), "--quiet"]) == 0


def test_trace_and_report_never_write_to_the_run(run_copy, tmp_path, capsys):
    before = fingerprint(run_copy)
    assert main(["trace", str(run_copy)]) == 0
    assert main(["report", str(run_copy), "-o", str(tmp_path / "out.html")]) == 0
    assert fingerprint(run_copy) == before


def test_a_truncated_checkpoint_database_is_named_and_repaired_from_the_files(run_copy, capsys):
    expected = [r["round"] for r in trace(run_copy, capsys)["rounds"]]
    champion = (run_copy / "champion").read_text().strip()
    db = run_copy / "checkpoints.sqlite"
    for suffix in ("-wal", "-shm"):
        (run_copy / f"checkpoints.sqlite{suffix}").unlink(missing_ok=True)
    with open(db, "r+b") as f:
        f.truncate(20000)
    for command in ("trace", "report", "resume"):
        err = error_of(capsys, command, str(run_copy))
        assert f"{db} is damaged" in err and f"autodidact repair {run_copy}" in err
    capsys.readouterr()
    assert main(["repair", str(run_copy)]) == 0
    assert "continue with autodidact resume" in capsys.readouterr().out
    assert list(run_copy.glob("checkpoints.sqlite.damaged-*"))
    t = trace(run_copy, capsys)
    assert [r["round"] for r in t["rounds"]] == expected and t["champion"] == champion
    assert t["decisions"][-1]["stage"] == "repair" and "damaged" in t["decisions"][-1]["reason"]
    # The run goes on from the rebuilt state: its two rounds are done, so the plan stops it.
    assert main(["resume", str(run_copy), "--quiet"]) == 0
    assert trace(run_copy, capsys)["status"] == "finished"


def test_an_emptied_checkpoint_database_is_damage_not_a_run_that_never_started(run_copy, capsys):
    for suffix in ("-wal", "-shm"):
        (run_copy / f"checkpoints.sqlite{suffix}").unlink(missing_ok=True)
    (run_copy / "checkpoints.sqlite").write_bytes(b"")
    err = error_of(capsys, "trace", str(run_copy))
    assert "lost the run's progress" in err
    assert (run_copy / "checkpoints.sqlite").stat().st_size == 0  # the reader wrote nothing
    assert main(["repair", str(run_copy)]) == 0
    assert len(trace(run_copy, capsys)["rounds"]) == 2


def test_a_bad_line_in_a_data_file_is_named_with_its_file_and_line(run_copy, tmp_path, capsys):
    attempts = run_copy / "data/round-1/attempts.jsonl"
    lines = attempts.read_text().splitlines()
    lines[2] = lines[2][: len(lines[2]) // 2]
    attempts.write_text("\n".join(lines) + "\n")
    err = error_of(capsys, "trace", str(run_copy), "--round", "1", "--stage", "acquire")
    assert f"{attempts} line 3 is not a JSON record" in err and "mend or delete that line" in err
    # The trace and the report show what they can read; the report names what it left out.
    assert trace(run_copy, capsys)["status"] == "finished"
    assert main(["report", str(run_copy), "-o", str(tmp_path / "r.html")]) == 0
    err = capsys.readouterr().err
    assert f"autodidact: report: left out {attempts} line 3" in err
    assert f"{attempts} line 3" in (tmp_path / "r.html").read_text()


def test_a_champion_without_weights_is_reported_with_the_fix(run_copy, capsys):
    t = trace(run_copy, capsys)
    champion = t["champion"]
    if not champion.startswith("models/"):
        pytest.skip("the tiny run promoted nothing")
    for weights in (run_copy / champion).glob("*.safetensors"):
        weights.unlink()
    capsys.readouterr()
    assert main(["trace", str(run_copy)]) == 0
    out = capsys.readouterr().out
    assert f"champion: {champion} has no weights" in out and f"autodidact rollback {run_copy} --to" in out
    assert main(["rollback", str(run_copy)]) == 0  # the fix works
    assert trace(run_copy, capsys)["champion_problem"] is None


def test_sigterm_stops_the_run_cleanly_with_the_path_to_resume(warm_model, tmp_path, capsys):
    run_dir = tmp_path / "run"
    status, err = signal_tiny_run(warm_model, run_dir, "round 1: gate after acquire", signal.SIGTERM)
    assert status == 130
    assert err.strip().splitlines()[-1] == f"autodidact: stopped by SIGTERM; continue with autodidact resume {run_dir}"
    last = json.loads((run_dir / "sessions.jsonl").read_text().splitlines()[-1])
    assert last["end"] == "interrupted" and last["signal"] == "SIGTERM"
    assert main(["resume", str(run_dir), "--quiet"]) == 0
    t = trace(run_dir, capsys)
    assert t["status"] == "finished" and [r["round"] for r in t["rounds"]] == [1, 2]


def test_exec_refuses_a_binary_file_and_an_oversized_one_before_the_sandbox_runs(tmp_path, capsys):
    binary = tmp_path / "blob.pyc"
    binary.write_bytes(bytes(range(256)))
    assert "is not UTF-8 text" in error_of(capsys, "exec", str(binary))
    nul = tmp_path / "nul.py"
    nul.write_text("print(1)\0\n")
    assert "is a binary file" in error_of(capsys, "exec", str(nul))
    big = tmp_path / "big.py"
    big.write_text("x = 1\n" * 400_000)
    assert "exec runs Python programs of at most 1024 KiB" in error_of(capsys, "exec", str(big))


def test_exec_names_the_sandboxs_scratch_limit_when_a_program_fills_it(tmp_path, capsys):
    program = tmp_path / "fill.py"
    program.write_text(
        "import os\nfor i in range(8):\n    with open(f'/tmp/f{i}', 'wb') as f:\n        f.write(os.urandom(8 << 20))\n"
    )
    capsys.readouterr()
    assert main(["exec", str(program)]) == 1
    err = capsys.readouterr().err
    assert "filled the sandbox's scratch area: 32 MiB is the sandbox's limit" in err, err


@pytest.mark.slow
def test_ten_random_kills_and_resumes_end_as_an_uninterrupted_run(warm_model, tmp_path, capsys):
    import random

    # Without a wall budget, round sizes do not depend on how fast the machine was: the two runs can be compared.
    fixed = ("--set", "budget.wall_s=0")
    whole_dir, run_dir = tmp_path / "whole", tmp_path / "run"
    assert main([*tiny_run_args(warm_model, whole_dir), *fixed]) == 0
    rng = random.Random(20)
    command = [sys.executable, "-m", "autodidact.agent.cli", *tiny_run_args(warm_model, run_dir), *fixed]
    kills = 0
    sessions = run_dir / "sessions.jsonl"
    for _ in range(10):
        started = len(sessions.read_text().splitlines()) if sessions.exists() else 0
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Each kill lands at a random moment after the process has begun working on the graph (its imports
        # take longer than the tiny run's nodes).
        while proc.poll() is None and (not sessions.exists() or len(sessions.read_text().splitlines()) == started):
            time.sleep(0.02)
        try:
            proc.wait(timeout=rng.uniform(0.2, 4.0))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            kills += 1
        else:
            break
        command = [sys.executable, "-m", "autodidact.agent.cli", "resume", str(run_dir), "--quiet"]
    assert kills >= 5, f"only {kills} kills landed before the run ended"
    print(f"{kills} kills, each followed by a resume")
    assert main(["resume", str(run_dir), "--quiet"]) == 0
    t, whole = trace(run_dir, capsys), trace(whole_dir, capsys)
    assert t["status"] == "finished" and [r["round"] for r in t["rounds"]] == [1, 2]
    assert_each_stage_decided_once(t)
    for data_file in run_dir.rglob("*.jsonl"):
        for line in data_file.read_text().splitlines():
            json.loads(line)
    assert not [p for p in run_dir.rglob("*") if p.name.startswith(".") and p.name != ".gitignore"], "temporary files"

    def table(rounds: list[dict]) -> list[dict]:
        """What the final table shows of each round (not its timings)."""
        return [
            {
                "counts": {k: v for k, v in r["counts"].items() if not k.endswith(("_s", "_per_min"))},
                "eval": {k: v for k, v in (r["eval"] or {}).items() if not k.endswith("_s")},
                "promoted": r["promoted"],
                "method": r["method"],
            }
            for r in rounds
        ]

    assert table(t["rounds"]) == table(whole["rounds"])


def test_a_copied_run_refers_to_nothing_of_the_original(finished_run, run_copy, capsys):
    # Every path inside the run is relative to it (the starting model stays as given), so a copy trains and
    # evaluates its own models.
    original = str(finished_run).encode()
    logs = ("run.log", "report.html")  # and TensorBoard's event files: records of what happened, never read back
    read_back = [p for p in run_copy.rglob("*") if p.is_file() and p.name not in logs and "tfevents" not in p.name]
    assert [str(p.relative_to(run_copy)) for p in read_back if original in p.read_bytes()] == []
    t = trace(run_copy, capsys)
    assert t["champion_problem"] is None and not Path(t["champion"]).is_absolute() or t["champion"] == t["base_model"]
