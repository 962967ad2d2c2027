"""The run directory: the one module that names the files of a run. Every other module asks `RunDir` for a path.

Layout:
    run.json                    goal and configuration (written once, at creation)
    checkpoints.sqlite          LangGraph's checkpoint database (the run's history; resume starts here)
    heldout.jsonl               the fixed held-out evaluation tasks
    guard.jsonl                 the guard-set candidates (the guard is those the starting model solves)
    tasks/written.jsonl         the practice tasks the LLM planner wrote and the checks admitted
    data/round-K/*.jsonl        tasks, attempts, repairs, planner transcript, what select built, of round K
    data/eval/KEY.jsonl         one model's greedy results on the held-out set (KEY: base, round-K, guard-...)
    models/round-K/             the candidate checkpoint trained in round K (its weights deleted if rejected)
    logs/round-K/               the trainer's step log (log_history.jsonl; TensorBoard events if installed)
    champion                    the location of the current champion (one line)
    champions.jsonl             every change of champion: promotions and rollbacks
    metrics.jsonl               one line per finished round (derived from the state; rewritten whole)
    sessions.jsonl              one line when a process starts working on the run, one when it stops
    writer.lock                 the writer's lock: held (flock) by the one process that writes the run, with its PID
    report.html                 the run at a glance, with plots (rewritten at the end of every session)
    run.log                     progress, one line per event

Every file is written to a temporary name and renamed into place, so a killed process leaves either the old
file or the new one, never a torn one. One process writes a run at a time (`lock`); the commands that only read
it (`trace`, `report`, `runs`) open the checkpoint database read-only. A damaged record is reported with its file
and line (`read_jsonl`), a damaged database by `check_database`.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..tools.files import atomic_write_text
from ..trainers.store import CheckpointStore
from .config import RunConfig
from .errors import UserError

RUN_FILE = "run.json"
DB_FILE = "checkpoints.sqlite"
LOCK_FILE = "writer.lock"

_HELD: dict[Path, int] = {}
"""The run directories this process holds the writer's lock of, and the lock file's descriptor."""


class DamagedFile(UserError):
    """A run file that cannot be read; the message names the file, the line and the fix."""


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every record of a JSONL file; a DamagedFile naming the file and line of the first that is not one."""
    rows = []
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                why = getattr(exc, "msg", None) or "not UTF-8 text"
                raise DamagedFile(
                    f"{path} line {number} is not a JSON record ({why}); mend or delete that line"
                ) from None
            if not isinstance(row, dict):
                raise DamagedFile(f"{path} line {number} is not a JSON object; mend or delete that line")
            rows.append(row)
    return rows


def held_runs() -> list[Path]:
    """The run directories whose writer's lock this process holds."""
    return list(_HELD)


def release_all() -> None:
    """Let go of every writer's lock this process holds."""
    for path in list(_HELD):
        RunDir(path).release()


def _in_use(path: Path, holder: dict[str, Any]) -> str:
    return f"{path} is in use by process {holder.get('pid', '?')} (autodidact {holder.get('command', '?')})"


class RunDir:
    """A run directory and the path of each of its files."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    # -- creation and opening ----------------------------------------------------------------------------
    @classmethod
    def check_new(cls, path: Path, goal: str) -> None:
        """Raise a UserError if `path` cannot hold a new run for `goal`. Touches nothing."""
        if path.exists() and not path.is_dir():
            raise UserError(f"--run-dir {path} is a file; give a directory path (new or empty)")
        holder = cls(path).busy() if path.is_dir() else None
        if holder:
            raise UserError(f"--run-dir {_in_use(path, holder)}; choose another directory")
        run_file = path / RUN_FILE
        if run_file.exists():
            try:
                other = json.loads(run_file.read_text())["goal"]
            except (OSError, ValueError, KeyError):
                other = None
            if other != goal:
                raise UserError(f"--run-dir {path} belongs to another run (goal {other!r}); choose a new directory")
            raise UserError(f"--run-dir {path} already holds this run; continue it with: autodidact resume {path}")
        if path.is_dir() and any(path.iterdir()):
            raise UserError(f"--run-dir {path} is not empty and is not a run; choose a new or empty directory")

    @classmethod
    def create(cls, path: Path, config: RunConfig) -> RunDir:
        cls.check_new(path, config.goal)
        path.mkdir(parents=True, exist_ok=True)
        run = cls(path)
        record = {
            "goal": config.goal,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "config": config.to_dict(),
        }
        atomic_write_text(run.run_file, json.dumps(record, indent=2) + "\n")
        return run

    @classmethod
    def open(cls, path: Path, *, started: bool = True) -> RunDir:
        """An existing run; `started=False` for one just created, whose graph has not checkpointed yet."""
        if not path.is_dir():
            raise UserError(f"{path} is not a directory; give the run directory that `autodidact run` made")
        run = cls(path)
        if not run.run_file.is_file() or (started and not run.db_path.is_file()):
            raise UserError(f"{path} is not an autodidact run (no {RUN_FILE} or {DB_FILE}); give a run directory")
        try:
            run.config()
        except (ValueError, KeyError, TypeError) as exc:
            raise UserError(f"{run.run_file} is damaged ({exc}); restore it or start a new run") from None
        return run

    @classmethod
    def is_run(cls, path: Path) -> bool:
        return (path / RUN_FILE).is_file()

    # -- one writer at a time ----------------------------------------------------------------------------
    def lock(self, command: str) -> None:
        """Take the writer's lock for `command` (held until `release` or the end of the process: the kernel lets go
        of a dead process's lock, so a stale one is simply taken over); a UserError naming the holder otherwise."""
        key = self.path.resolve()
        if key in _HELD:
            return
        fd = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self.writer(fd)
            os.close(fd)
            raise UserError(
                f"{_in_use(self.path, holder)}; wait for it to end, or stop it with kill -INT "
                f"{holder.get('pid', '?')} and continue with autodidact resume {self.path}"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "command": command}).encode(), 0)
        _HELD[key] = fd

    def release(self) -> None:
        fd = _HELD.pop(self.path.resolve(), None)
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the flock

    def busy(self) -> dict[str, Any] | None:
        """The process that writes the run now ({"pid", "command"}), or None."""
        path = self.path / LOCK_FILE
        if not path.exists() or self.path.resolve() in _HELD:
            return None
        fd = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return self.writer(fd)
        finally:
            os.close(fd)
        return None

    @staticmethod
    def writer(fd: int) -> dict[str, Any]:
        try:
            found = json.loads(os.pread(fd, 4096, 0) or b"{}")
        except ValueError:
            return {}
        return found if isinstance(found, dict) else {}

    # -- damage --------------------------------------------------------------------------------------------
    def check_database(self) -> str | None:
        """What is wrong with the checkpoint database (read-only checks), or None when it holds the run."""
        try:
            connection = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)
            try:
                if connection.execute("PRAGMA quick_check").fetchone() != ("ok",):
                    return "its pages are damaged"
                tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                if (
                    "checkpoints" not in tables
                    or not connection.execute("SELECT 1 FROM checkpoints LIMIT 1").fetchone()
                ):
                    if (self.path / "data").is_dir() or self.metrics_file.exists():
                        return "it has lost the run's progress (no checkpoints, but the run has data)"
            finally:
                connection.close()
        except sqlite3.Error as exc:
            return str(exc)
        return None

    # -- contents ----------------------------------------------------------------------------------------
    def config(self) -> RunConfig:
        return RunConfig.from_dict(self.record()["config"])

    def record(self) -> dict[str, Any]:
        """run.json: the goal, when the run was created, and its configuration."""
        return dict(json.loads(self.run_file.read_text(encoding="utf-8")))

    @property
    def run_file(self) -> Path:
        return self.path / RUN_FILE

    @property
    def db_path(self) -> Path:
        return self.path / DB_FILE

    @property
    def heldout_file(self) -> Path:
        return self.path / "heldout.jsonl"

    @property
    def guard_file(self) -> Path:
        return self.path / "guard.jsonl"

    @property
    def written_file(self) -> Path:
        return self.path / "tasks" / "written.jsonl"

    @property
    def metrics_file(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def report_file(self) -> Path:
        return self.path / "report.html"

    def round_dir(self, round_no: int) -> Path:
        return self.path / "data" / f"round-{round_no}"

    def round_file(self, round_no: int, name: str) -> Path:
        """data/round-K/NAME.jsonl (tasks, attempts, repairs, selected, pairs, prompts, planner)."""
        return self.round_dir(round_no) / f"{name}.jsonl"

    def eval_file(self, key: str) -> Path:
        """data/eval/KEY.jsonl: one model's results on the held-out set or the guard set."""
        return self.path / "data" / "eval" / f"{key}.jsonl"

    def model_dir(self, round_no: int) -> Path:
        return self.path / "models" / f"round-{round_no}"

    def log_dir(self, round_no: int) -> Path:
        return self.path / "logs" / f"round-{round_no}"

    def step_log(self, round_no: int) -> Path:
        """The trainer's log of every step in round K."""
        return self.log_dir(round_no) / "log_history.jsonl"

    def relative(self, path: Path) -> str:
        """`path` as stored in the state and the records: relative to the run directory."""
        return str(path.relative_to(self.path))

    def store(self) -> CheckpointStore:
        """The run's checkpoints: lineage records, the champion pointer and its history."""
        return CheckpointStore(self.path, pointer=self.path / "champion", history=self.path / "champions.jsonl")

    def metrics(self) -> list[dict[str, Any]]:
        return read_jsonl(self.metrics_file) if self.metrics_file.exists() else []

    def session(self, event: dict[str, Any]) -> None:
        """Append a session event: {"start": kind} when a process takes the run up, {"end": status} when it stops.
        A start without an end before the next start is a process that was killed."""
        # Sub-second precision: the trace orders these events among the checkpoints (microsecond timestamps).
        line = json.dumps({"time": datetime.now(timezone.utc).isoformat(), **event})
        with open(self.path / "sessions.jsonl", "a", encoding="utf-8") as f:
            f.write(line + "\n")

    def sessions(self) -> list[dict[str, Any]]:
        path = self.path / "sessions.jsonl"
        return read_jsonl(path) if path.exists() else []

    def log(self, message: str) -> None:
        """Append one line to run.log (a log, not state: a resumed stage may log twice)."""
        line = f"{time.strftime('%H:%M:%S')} {message}\n"
        with open(self.path / "run.log", "a", encoding="utf-8") as f:
            f.write(line)
