"""The run directory: where a run's checkpoint database, data files, models and logs live.

Layout:
    run.json                    goal and configuration (written once, at creation)
    checkpoints.sqlite          LangGraph's checkpoint database (the run's history; resume starts here)
    heldout.jsonl               the fixed held-out evaluation tasks
    data/round-K/*.jsonl        tasks, attempts, repairs, selected rows, evaluation results of round K
    models/round-K/             the candidate checkpoint trained in round K (deleted if rejected)
    champion                    the location of the current champion (one line)
    metrics.jsonl               one line per finished round (derived from the state; rewritten whole)
    sessions.jsonl              one line when a process starts working on the run, one when it stops
    report.html                 the run at a glance, with plots (rewritten at the end of every session)
    run.log                     progress, one line per event

Every file is written to a temporary name and renamed into place, so a killed process leaves either the old
file or the new one, never a torn one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..tools.files import atomic_write_text
from .config import RunConfig
from .errors import UserError

RUN_FILE = "run.json"
DB_FILE = "checkpoints.sqlite"


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


class RunDir:
    """A validated run directory."""

    def __init__(self, path: Path) -> None:
        self.path = path

    # -- creation and opening ----------------------------------------------------------------------------
    @classmethod
    def check_new(cls, path: Path, goal: str) -> None:
        """Raise a UserError if `path` cannot hold a new run for `goal`. Touches nothing."""
        if path.exists() and not path.is_dir():
            raise UserError(f"--run-dir {path} is a file; give a directory path (new or empty)")
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
        atomic_write_text(path / RUN_FILE, json.dumps(record, indent=2) + "\n")
        return run

    @classmethod
    def open(cls, path: Path) -> RunDir:
        if not path.is_dir():
            raise UserError(f"{path} is not a directory; give the run directory that `autodidact run` made")
        if not (path / RUN_FILE).is_file() or not (path / DB_FILE).is_file():
            raise UserError(f"{path} is not an autodidact run (no {RUN_FILE} or {DB_FILE}); give a run directory")
        run = cls(path)
        try:
            run.config()
        except (ValueError, KeyError, TypeError) as exc:
            raise UserError(f"{path / RUN_FILE} is damaged ({exc}); restore it or start a new run") from None
        return run

    # -- contents ----------------------------------------------------------------------------------------
    def config(self) -> RunConfig:
        return RunConfig.from_dict(json.loads((self.path / RUN_FILE).read_text())["config"])

    @property
    def db_path(self) -> Path:
        return self.path / DB_FILE

    def round_dir(self, round_no: int) -> Path:
        return self.path / "data" / f"round-{round_no}"

    def model_dir(self, round_no: int) -> Path:
        return self.path / "models" / f"round-{round_no}"

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
