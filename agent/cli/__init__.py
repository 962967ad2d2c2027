"""The `autodidact` command.

autodidact run "get better at writing small Python functions" [--set SECTION.FIELD=VALUE ...]
autodidact trace runs/<dir> [--json] [--round K --stage S]
autodidact runs [runs/]
autodidact report runs/<dir> [-o report.html]
autodidact resume runs/<dir>
autodidact rollback runs/<dir> [--to models/round-K]
autodidact repair runs/<dir>
autodidact exec program.py [--json]
autodidact eval MODEL_OR_RUN... [--bench humaneval|heldout|FILE]
autodidact seed --task addition --max-digits 5
autodidact tasks | tools | plugins [--plugin FILE]

| module | holds |
|---|---|
| `parser.py` | every command's arguments |
| `options.py` | `run`'s config options, generated from the config's fields, and `--set` |
| `run_commands.py` | run, resume, rollback, repair |
| `inspect_commands.py` | trace, runs, report, exec, seed, and the listings |
| `eval_command.py` | eval: checkpoints side by side on a benchmark |
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from ..errors import Stopped, UserError
from ..planning.clock import process_started
from .eval_command import cmd_eval
from .inspect_commands import (
    cmd_exec,
    cmd_plugins,
    cmd_report,
    cmd_runs,
    cmd_seed,
    cmd_tasks,
    cmd_tools,
    cmd_trace,
)
from .parser import build_parser
from .run_commands import cmd_repair, cmd_resume, cmd_rollback, cmd_run

EXIT_USAGE = 2


def quiet_libraries() -> None:
    """Our own progress bars and log lines say what is happening; the libraries' per-file bars only clutter."""
    import logging
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        import datasets

        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()
    except ImportError:  # pragma: no cover - datasets is a dependency of trl
        pass
    logging.getLogger("trl").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="trl")
    warnings.filterwarnings("ignore", module="transformers")


COMMANDS = {
    "run": cmd_run,
    "resume": cmd_resume,
    "trace": cmd_trace,
    "runs": cmd_runs,
    "report": cmd_report,
    "rollback": cmd_rollback,
    "repair": cmd_repair,
    "exec": cmd_exec,
    "eval": cmd_eval,
    "seed": cmd_seed,
    "tasks": cmd_tasks,
    "tools": cmd_tools,
    "plugins": cmd_plugins,
}


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = build_parser().parse_args(argv)
    # The wall budget runs from the command's start: the process's when it is the command, else this call's.
    args.started = process_started() if argv is None else time.monotonic()
    quiet_libraries()
    from ...tools.cluster import ClusterError
    from ...tools.models import ModelError
    from ..rundir import held_runs, release_all

    restore = stop_on_signals()
    try:
        return COMMANDS[args.command](args)
    except (UserError, ModelError, ClusterError) as exc:
        print(f"autodidact: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as exc:
        name = getattr(exc, "signal", "SIGINT")
        held = held_runs()
        where = f"; continue with autodidact resume {held[0]}" if held else ""
        print(f"autodidact: stopped by {name}{where}", file=sys.stderr)
        return 130
    finally:
        release_all()
        restore()


def stop_on_signals() -> Callable[[], None]:
    """SIGINT and SIGTERM stop the command at the next point Python can (the graph's last finished node is
    checkpointed, the session's end recorded); a second signal stops the process at once. Returns what puts the
    previous handlers back. Only the main thread can handle signals; elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def stop(signum: int, frame: Any) -> None:
        for sig in previous:
            signal.signal(sig, signal.SIG_DFL)
        raise Stopped(signal.Signals(signum).name)

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    for sig in previous:
        signal.signal(sig, stop)
    return restore


__all__ = ["COMMANDS", "EXIT_USAGE", "build_parser", "main"]
