"""The `autodidact` command.

autodidact run "get better at writing small Python functions"
autodidact trace runs/<dir> [--json] [--round K --stage S]
autodidact runs [runs/]
autodidact report runs/<dir> [-o report.html]
autodidact resume runs/<dir>
autodidact rollback runs/<dir> [--to models/round-K]
autodidact exec program.py [--json]
autodidact seed --task addition --max-digits 5
autodidact tasks | tools [--plugin FILE]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import sys
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

from ..trainers.scratch import SeedParams
from .config import RunConfig
from .errors import UserError

EXIT_USAGE = 2


def _slug(goal: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", goal.lower()).strip("-")[:40] or "run"


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


# (config field, flag, type) of the numeric options of `run`: default and help come from RunConfig.
NUMERIC_OPTIONS = [
    ("rounds", "--rounds", int),
    ("heldout_tasks", "--heldout-tasks", int),
    ("guard_tasks", "--guard-tasks", int),
    ("tasks_per_round", "--tasks-per-round", int),
    ("samples_per_task", "--samples", int),
    ("epochs", "--epochs", float),
    ("learning_rate", "--learning-rate", float),
]


def _config_option(parser: argparse.ArgumentParser, name: str, flag: str, kind: type) -> None:
    spec = {f.name: f for f in fields(RunConfig)}[name]
    description = spec.metadata["description"].rstrip(".")
    parser.add_argument(
        flag,
        dest=name,
        type=_positive(kind),
        default=None,  # unset: the task family's default if it has one, else RunConfig's
        metavar="N",
        help=f"{description} (default {spec.default:g}, unless the task family sets its own)",
    )


SANDBOX_OPTION: dict[str, Any] = {
    "choices": ["local", "docker", "e2b"],
    "default": "local",
    "help": "where attempts run: local (a pool of hardened fork servers; default), docker (needs a Docker engine "
    "and the image `.ci/docker-engine start` builds), e2b (E2B cloud sandboxes; needs E2B_API_KEY)",
}


def _sandbox(name: str) -> Any:
    """The sandbox backend `name`, or a one-line error saying why it cannot run here."""
    from ..sandbox import get_sandbox

    try:
        return get_sandbox(name)
    except ValueError as exc:
        raise UserError(f"{exc}; or use --sandbox local") from None


PLUGIN_OPTION: dict[str, Any] = {
    "action": "append",
    "default": [],
    "metavar": "FILE",
    "help": "load plugins from a module file that declares PLUGINS = {'tasks': {...}, 'tools': {...}} (repeatable)",
}


def load_plugins(files: list[str]) -> list[str]:
    """Load plugin module files; their absolute paths (kept in the run's config, so a resume loads them too)."""
    from ..plugins import load_file

    loaded = []
    for file in files:
        try:
            load_file(file)
        except FileNotFoundError as exc:
            raise UserError(f"--plugin: {exc}") from None
        loaded.append(str(Path(file).resolve()))
    return loaded


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autodidact",
        description="A language model that improves itself: it practises tasks, checks its answers in a sandbox, "
        "repairs its failures, fine-tunes on what it verified, and keeps the new model only when a held-out "
        "evaluation proves it better.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    defaults = RunConfig(goal="")

    run = sub.add_parser(
        "run",
        help="start a self-improvement run for a goal",
        description="Start a run: plan, acquire, refine, select, train, evaluate, with a gate "
        "after each stage. Progress goes to stderr and RUN_DIR/run.log; the final table to stdout.",
    )
    run.add_argument("goal", help='what to get better at, e.g. "get better at writing small Python functions"')
    run.add_argument(
        "--model",
        default=defaults.model,
        help="starting model: the bundled default, a Hugging Face id, or a local checkpoint directory "
        f"(default {defaults.model})",
    )
    run.add_argument(
        "--tasks",
        help="comma-separated task families (see `autodidact tasks`); default: the families the goal matches by "
        "meaning, with the scores and the choice in the trace",
    )
    run.add_argument(
        "--levels", help="comma-separated difficulty levels to practise and evaluate on (default: all of the family's)"
    )
    run.add_argument(
        "--task-file",
        metavar="FILE",
        help="your own tasks as JSONL, for --tasks jsonl (prompt plus tests, MBPP and HumanEval fields work; "
        "malformed rows are reported with their line numbers)",
    )
    run.add_argument("--run-dir", type=Path, help="where the run lives (default runs/<time>-<goal>)")
    run.add_argument("--seed", type=int, default=defaults.seed, help="seed for tasks and sampling (default 0)")
    for name, flag, kind in NUMERIC_OPTIONS:
        _config_option(run, name, flag, kind)
    run.add_argument("--sandbox", **SANDBOX_OPTION)
    run.add_argument(
        "--trainer",
        default=defaults.trainer,
        metavar="METHOD",
        help="how to train each round: sft (verified answers), dpo (failed vs verified pairs), grpo (online "
        "sandbox reward), a plugin's trainer (autodidact tools lists it as train_NAME), or auto: chosen per round "
        "from the data, with the reason in the trace (default auto)",
    )
    run.add_argument(
        "--adapter",
        choices=["auto", "full", "lora"],
        default=defaults.adapter,
        help="full fine-tuning or LoRA (peft); auto: LoRA for models above 400M parameters (default auto)",
    )
    run.add_argument(
        "--lora-output",
        choices=["merge", "adapter"],
        default=defaults.lora_output,
        help="with LoRA: merge the adapter into each candidate's weights, or save the adapter alone (default merge)",
    )
    run.add_argument(
        "--train-param",
        action="append",
        default=[],
        metavar="METHOD.NAME=VALUE",
        help="override one trainer hyper-parameter, e.g. dpo.beta=0.2 or grpo.num_generations=8 (repeatable)",
    )
    run.add_argument(
        "--budget",
        metavar="KEY=VALUE,...",
        help="limits for the run: wall (e.g. 30m, 2h), sandbox (sandbox seconds, e.g. 600s), tokens (generated, "
        "e.g. 2e6), steps (training steps); the run ends cleanly, with the reason, when one is spent",
    )
    run.add_argument(
        "--guard-tolerance",
        type=_fraction,
        default=defaults.guard_tolerance,
        metavar="F",
        help="most share of the guard set (held-out-like tasks the starting model solved) a candidate may lose "
        f"against the champion and still be promoted (default {defaults.guard_tolerance:g}; 1 switches it off)",
    )
    run.add_argument(
        "--patience",
        type=_positive(int),
        default=defaults.patience,
        metavar="K",
        help=f"stop after K rounds in a row without a promotion (default {defaults.patience})",
    )
    run.add_argument(
        "--approve",
        choices=["promote"],
        help="pause before each promotion until a person runs: autodidact resume RUN_DIR --approve (or --reject)",
    )
    run.add_argument(
        "--label-filter",
        choices=["verified", "majority"],
        default=defaults.label_filter,
        help="which sampled answers to train on: verified (checked in the sandbox; default) or majority (the answer "
        "most samples of a task agree on, no ground truth; give --samples 3 or more). The trace reports how many "
        "majority labels were right",
    )
    agent = run.add_argument_group(
        "the model as agent",
        "An LLM on an OpenAI-compatible server (vllm serve, OpenAI, ...) may plan the rounds and critique failed "
        "attempts. Its API key, if the server needs one, is read from $AUTODIDACT_LLM_API_KEY (else "
        "$OPENAI_API_KEY). Whatever goes wrong with it is recorded and the round goes on without it.",
    )
    agent.add_argument(
        "--planner",
        choices=["curriculum", "llm", "self"],
        default=defaults.planner,
        help="who plans each round: curriculum (offline rules; default), llm (--planner-model on "
        "--planner-base-url, through tool calls: look at families and history, probe levels, write tasks, plan "
        "or stop), or self (the model being trained, served by the run's backend). A failed planner turn falls "
        "back to the curriculum for that round",
    )
    agent.add_argument("--planner-model", metavar="NAME", help="the model name the planner's server serves")
    agent.add_argument("--planner-base-url", metavar="URL", help="the planner's server, e.g. http://127.0.0.1:8000/v1")
    agent.add_argument(
        "--planner-timeout",
        type=_positive(float),
        default=defaults.planner_timeout_s,
        metavar="S",
        help=f"seconds to wait for the planner's or critic's reply (default {defaults.planner_timeout_s:g})",
    )
    agent.add_argument(
        "--planner-turns",
        type=_positive(int),
        default=defaults.planner_turns,
        metavar="N",
        help=f"most planner replies per round before the curriculum plans instead (default {defaults.planner_turns})",
    )
    agent.add_argument(
        "--critic",
        choices=["none", "self", "llm"],
        default=defaults.critic,
        help="in refine, who writes a critique of each failed attempt before the repair: none (default), self "
        "(the model being trained), or llm (--critic-model, on --critic-base-url or the planner's server)",
    )
    agent.add_argument("--critic-model", metavar="NAME", help="the critic's model name (default: the planner's)")
    agent.add_argument("--critic-base-url", metavar="URL", help="the critic's server (default: the planner's)")
    agent.add_argument(
        "--backend",
        choices=["transformers", "vllm", "openai"],
        default=defaults.backend,
        help="where attempts are sampled: transformers (this process; default), vllm (this process, GPU), or "
        "openai (--backend-url, e.g. vllm serve MODEL --enable-lora). vllm and openai train LoRA adapters and "
        "serve each candidate as one",
    )
    agent.add_argument("--backend-url", metavar="URL", help="the openai backend's server, .../v1")
    agent.add_argument("--backend-model", metavar="NAME", help="the name the backend's server serves --model under")
    run.add_argument("--keep-candidates", action="store_true", help="keep the weights of rejected candidates")
    run.add_argument("--plugin", **PLUGIN_OPTION)
    run.add_argument("--quiet", action="store_true", help="no progress on stderr (run.log still gets it)")

    resume = sub.add_parser("resume", help="continue a run that was interrupted, from its last finished node")
    resume.add_argument("run_dir", type=Path)
    resume.add_argument("--quiet", action="store_true")
    answer = resume.add_mutually_exclusive_group()
    answer.add_argument("--approve", action="store_true", help="approve the promotion the run is waiting on")
    answer.add_argument("--reject", action="store_true", help="reject the promotion the run is waiting on")

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
    trace.add_argument("--round", type=_positive(int), metavar="K", help="drill into round K (with --stage)")
    trace.add_argument("--stage", choices=["plan", "acquire", "refine", "select", "train", "evaluate"])
    trace.add_argument("--limit", type=_positive(int), default=10, help="rows to show in a drill-down (default 10)")

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

    back = sub.add_parser(
        "rollback",
        help="make the champion's parent the champion again (a finished run)",
        description="Roll a finished run's champion back along its lineage: to its parent checkpoint, or to the "
        "checkpoint given with --to. The champion pointer and the run's state change together; the decision "
        "is recorded in the trace.",
    )
    back.add_argument("run_dir", type=Path)
    back.add_argument("--to", metavar="CHECKPOINT", help="an ancestor of the champion, e.g. models/round-1")

    exe = sub.add_parser("exec", help="run a Python file in the sandbox and print what happened")
    exe.add_argument("file", type=Path)
    exe.add_argument("--json", action="store_true", help="print the result as JSON")
    exe.add_argument("--timeout", type=_positive(float), default=10.0, help="wall-clock seconds (default 10)")
    exe.add_argument("--sandbox", **SANDBOX_OPTION)
    for name, what in (("tasks", "task families (with their levels)"), ("tools", "tools the agent can call")):
        listing = sub.add_parser(
            name,
            help=f"list the {what}, built-in and from plugins, and where each came from",
            description=f"List the {what}: name, one-line description, and the package (or plugin file) each "
            "came from. Plugins that failed to load are listed with their error.",
        )
        listing.add_argument("--json", action="store_true", help="print one JSON list")
        listing.add_argument("--plugin", **PLUGIN_OPTION)

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
        type=_positive(int),
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
    return parser


def _config_from_args(args: argparse.Namespace) -> RunConfig:
    plugins = load_plugins(args.plugin)
    from ..trainers import TRAINERS

    if args.trainer != "auto" and args.trainer not in TRAINERS:
        raise UserError(f"--trainer {args.trainer}: choose auto or one of {', '.join(TRAINERS)}")
    goal = args.goal.strip()
    if not goal:
        raise UserError(
            'the goal is empty; say what to get better at, e.g. autodidact run "write small Python functions"'
        )
    from ..tools.tasks import FAMILIES

    choice = None
    if args.tasks is None:
        from .goals import match_families

        try:
            choice = match_families(goal, {n: c for n, c in FAMILIES.items() if not c.run_only}).to_dict()
        except ValueError as exc:
            raise UserError(str(exc)) from None
        families = list(choice["families"])
    else:
        families = [f.strip() for f in args.tasks.split(",") if f.strip()]
    unknown = [f for f in families if f not in FAMILIES]
    if unknown or not families:
        raise UserError(
            f"unknown task family {', '.join(unknown) or '(none)'}; choose from: {', '.join(sorted(FAMILIES))}"
        )
    from ..tools.tasks.jsonl import TaskFileError

    try:
        chosen = [FAMILIES[f].configured(task_file=args.task_file) for f in families]
    except TaskFileError as exc:
        raise UserError(str(exc)) from None
    known = sorted(set.intersection(*(set(f.levels) for f in chosen)))
    levels = None
    if args.levels:
        try:
            levels = sorted({int(x) for x in args.levels.split(",") if x.strip()})
        except ValueError:
            levels = []
        if not levels or not set(levels) <= set(known):
            raise UserError(
                f"--levels {args.levels}: give comma-separated levels of {', '.join(families)} "
                f"({known[0]}-{known[-1]}), e.g. --levels {','.join(map(str, known[:2]))}"
            )
    # The task families' own defaults (the first family's where they differ), then what the user set.
    numbers: dict[str, Any] = {}
    for family in reversed(chosen):
        numbers.update(family.run_defaults)
    numbers.update({name: getattr(args, name) for name, _, _ in NUMERIC_OPTIONS if getattr(args, name) is not None})
    train_params = numbers.pop("train_params", {})
    for method, values in parse_train_params(args.train_param).items():
        train_params[method] = {**train_params.get(method, {}), **values}
    if args.label_filter == "majority":  # a vote needs several samples, and greedy samples would always agree
        if args.samples_per_task is not None and args.samples_per_task < 3:
            raise UserError(
                "--label-filter majority needs at least 3 samples per task to vote; give --samples 3 or more"
            )
        if numbers.get("samples_per_task", RunConfig.samples_per_task) < 3:
            numbers["samples_per_task"] = 4
        if numbers.get("temperature", RunConfig.temperature) <= 0:
            numbers["temperature"] = RunConfig.temperature
    agent = agent_options(args)
    return RunConfig(
        goal=goal,
        **agent,
        label_filter=args.label_filter,
        plugins=plugins,
        task_choice=choice,
        task_file=str(Path(args.task_file).resolve()) if args.task_file else None,
        trainer=args.trainer,
        train_params=train_params,
        budget=parse_budget(args.budget),
        patience=args.patience,
        guard_tolerance=args.guard_tolerance,
        approve=args.approve,
        model=args.model,
        tasks=families,
        levels=levels,
        seed=args.seed,
        keep_candidates=args.keep_candidates,
        sandbox=args.sandbox,
        **numbers,
    )


def agent_options(args: argparse.Namespace) -> dict[str, Any]:
    """The planner, critic and backend settings, checked: each needs its server and model named."""
    if args.planner == "llm" and not (args.planner_model and args.planner_base_url):
        raise UserError(
            "--planner llm needs --planner-model NAME and --planner-base-url URL (an OpenAI-compatible server)"
        )
    critic_model = args.critic_model or args.planner_model
    critic_url = args.critic_base_url or args.planner_base_url
    if args.critic == "llm" and not (critic_model and critic_url):
        raise UserError("--critic llm needs --critic-model and --critic-base-url (or the planner's)")
    adapter, lora_output = args.adapter, args.lora_output
    if args.backend != "transformers":
        if args.backend == "openai" and not (args.backend_url and args.backend_model):
            raise UserError(
                "--backend openai needs --backend-url URL and --backend-model NAME (what it serves --model as)"
            )
        if args.backend == "vllm" and importlib.util.find_spec("vllm") is None:
            raise UserError("--backend vllm needs vLLM and a GPU: pip install 'autodidact[vllm]'")
        if adapter == "full":
            raise UserError(f"--backend {args.backend} serves each candidate as a LoRA adapter: drop --adapter full")
        adapter, lora_output = "lora", "adapter"
    return {
        "planner": args.planner,
        "planner_model": args.planner_model,
        "planner_base_url": args.planner_base_url,
        "planner_timeout_s": args.planner_timeout,
        "planner_turns": args.planner_turns,
        "critic": args.critic,
        "critic_model": critic_model,
        "critic_base_url": critic_url,
        "backend": args.backend,
        "backend_url": args.backend_url,
        "backend_model": args.backend_model,
        "adapter": adapter,
        "lora_output": lora_output,
    }


BUDGET_UNITS = {"s": 1, "m": 60, "h": 3600}
BUDGET_NAMES = {"wall": "wall_s", "sandbox": "sandbox_s", "tokens": "tokens", "steps": "train_steps"}


def parse_budget(text: str | None) -> dict[str, float]:
    """`wall=30m,sandbox=600s,tokens=2e6,steps=500` as {"wall_s": 1800, ...}; a one-line error otherwise."""
    budget: dict[str, float] = {}
    for item in filter(None, (x.strip() for x in (text or "").split(","))):
        name, _, value = item.partition("=")
        key = BUDGET_NAMES.get(name.strip())
        scale = 1
        if key in ("wall_s", "sandbox_s") and value[-1:] in BUDGET_UNITS:
            value, scale = value[:-1], BUDGET_UNITS[value[-1]]
        try:
            amount = float(value) * scale
        except ValueError:
            amount = -1
        if key is None or amount <= 0:
            raise UserError(
                f"--budget {item}: write KEY=VALUE with KEY one of {', '.join(BUDGET_NAMES)} and a positive VALUE, "
                "e.g. --budget wall=30m,tokens=2e6"
            )
        budget[key] = amount
    return budget


def parse_train_params(items: list[str]) -> dict[str, dict[str, Any]]:
    """`METHOD.NAME=VALUE` overrides, checked against the method's hyper-parameters and converted to their type."""
    from ..trainers import PARAMS

    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        method, dot, name = key.partition(".")
        if not sep or not dot or method not in PARAMS:
            raise UserError(f"--train-param {item}: write METHOD.NAME=VALUE with METHOD one of {', '.join(PARAMS)}")
        spec = {f.name: f for f in fields(PARAMS[method])}.get(name)
        if spec is None:
            names = ", ".join(f.name for f in fields(PARAMS[method]))
            raise UserError(f"--train-param {item}: {method} has no hyper-parameter {name!r}; it has: {names}")
        kind: Any = type(spec.default)
        try:
            value: Any = {"true": True, "false": False}[text.lower()] if kind is bool else kind(text)
        except (KeyError, ValueError):
            raise UserError(f"--train-param {item}: {name} takes a {kind.__name__}, got {text!r}") from None
        out.setdefault(method, {})[name] = value
    return out


def _execute(ctx: Any, initial: Any, kind: str) -> int:
    from .graph import compile_graph, run_graph
    from .report import write_report
    from .trace import build_trace, format_table

    app = compile_graph(ctx)
    start = time.monotonic()
    ctx.run.session({"start": kind})
    status = "interrupted"
    try:
        run_graph(app, initial)
        status = "stopped"
    finally:
        ctx.close()
        ctx.run.session({"end": status})
    trace = build_trace(ctx, app)
    write_report(ctx, trace)
    if trace["awaiting"]:
        waiting = trace["awaiting"]
        ctx.log(
            f"round {waiting['round']}: {waiting['candidate']} awaits approval ({waiting['reason']}); continue with: "
            f"autodidact resume {ctx.run.path} --approve (or --reject)"
        )
    else:
        ctx.log(f"run finished in {time.monotonic() - start:.0f} s; champion: {trace['champion']}")
    print(format_table(trace))
    print(f"run directory: {ctx.run.path}  (autodidact trace {ctx.run.path})")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from ..tools.models import check_model
    from .rundir import RunDir

    config = _config_from_args(args)
    run_dir = args.run_dir or Path("runs") / f"{time.strftime('%Y%m%d-%H%M%S')}-{_slug(config.goal)}"
    RunDir.check_new(run_dir, config.goal)
    sandbox = _sandbox(config.sandbox)  # these two fail before anything is written
    location = check_model(config.model)
    ctx, initial = start_run(run_dir, config, location, quiet=args.quiet, sandbox=sandbox)
    return _execute(ctx, initial, "run")


def start_run(run_dir: Path, config: RunConfig, location: str, *, quiet: bool, sandbox: Any = None) -> Any:
    """Create the run directory, its held-out and guard sets and champion pointer: (context, initial state)."""
    from ..trainers.store import CheckpointStore
    from .context import RunContext
    from .rundir import RunDir
    from .state import initial_state

    run = RunDir.create(run_dir, config)
    ctx = RunContext(config=config, run=run, quiet=quiet, _sandbox=sandbox)
    ctx.log(f"run started in {run_dir}: goal {config.goal!r}, model {location}")
    if config.task_choice:
        ctx.log(f"task families: {config.task_choice['reason']}")
    seed_report = Path(location) / "seed.json"
    if seed_report.is_file():  # a model from `autodidact seed`: say what it was trained on and how well it did
        seeded = json.loads(seed_report.read_text(encoding="utf-8"))
        shown = ", ".join(f"L{k}={v:.0%}" for k, v in seeded.get("accuracy", {}).items())
        ctx.log(f"the model was seeded on {seeded.get('task')} levels 1-{seeded.get('max_level')}: {shown}")
    ctx.make_heldout()
    CheckpointStore(run.path).set_champion(location, reason="the starting model", round_no=0)
    return ctx, initial_state(config.goal, location)


def _open(run_dir: Path, quiet: bool = True) -> Any:
    from .context import RunContext
    from .rundir import RunDir

    run = RunDir.open(run_dir)
    config = run.config()
    load_plugins(config.plugins)
    return RunContext(config=config, run=run, quiet=quiet)


def cmd_resume(args: argparse.Namespace) -> int:
    from .graph import THREAD, compile_graph

    ctx = _open(args.run_dir, args.quiet)
    ctx._sandbox = _sandbox(ctx.config.sandbox)
    snapshot = compile_graph(ctx).get_state(THREAD)
    if not snapshot.values:
        raise UserError(f"{args.run_dir} has no saved progress; start a new run instead")
    waiting = bool(snapshot.interrupts)
    if waiting and not (args.approve or args.reject):
        raise UserError(f"{args.run_dir} awaits approval of a promotion; resume it with --approve or --reject")
    if (args.approve or args.reject) and not waiting:
        raise UserError(f"{args.run_dir} is not waiting for an approval; resume it without --approve/--reject")
    if not snapshot.next:
        ctx.log("resume: the run had already finished")
    else:
        ctx.log(f"resume: continuing at {', '.join(snapshot.next)} (round {snapshot.values.get('round')})")
    if waiting:
        from langgraph.types import Command

        ctx.log(f"resume: the promotion is {'approved' if args.approve else 'rejected'} by a person")
        return _execute(ctx, Command(resume={"approve": bool(args.approve)}), "resume")
    return _execute(ctx, None, "resume")


def cmd_trace(args: argparse.Namespace) -> int:
    from .graph import compile_graph
    from .trace import build_trace, format_detail, format_trace, stage_detail

    ctx = _open(args.run_dir)
    trace = build_trace(ctx, compile_graph(ctx))
    if args.round or args.stage:
        if not (args.round and args.stage):
            raise UserError("--round and --stage go together, e.g. autodidact trace RUN_DIR --round 1 --stage acquire")
        try:
            detail = stage_detail(ctx, trace, args.round, args.stage)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        print(json.dumps(detail, indent=2) if args.json else format_detail(detail, args.limit))
        return 0
    print(json.dumps(trace, indent=2) if args.json else format_trace(trace))
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from .trace import list_runs

    if not args.root.is_dir():
        raise UserError(f"{args.root} is not a directory; give the folder that holds run directories")
    found = list_runs(args.root)
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    if not found:
        print(f"no runs in {args.root}")
    for r in found:
        print(
            f"{r['run']}  goal: {r['goal']!r}  rounds: {r['rounds']} ({r['promoted']} promoted)  "
            f"champion: {r['champion']}  held-out pass@1: {r.get('heldout', '-')}"
        )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .graph import compile_graph
    from .report import write_report
    from .trace import build_trace

    ctx = _open(args.run_dir)
    path = write_report(ctx, build_trace(ctx, compile_graph(ctx)), args.output)
    print(path)
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from ..trainers.store import CheckpointStore
    from .graph import THREAD, compile_graph
    from .state import Decision

    ctx = _open(args.run_dir)
    app = compile_graph(ctx)
    snapshot = app.get_state(THREAD)
    if not snapshot.values or snapshot.next:
        raise UserError(f"{args.run_dir} is not finished; finish it (autodidact resume {args.run_dir}) first")
    store = CheckpointStore(ctx.run.path)
    current = snapshot.values["champion"]
    allowed = store.restorable_ancestors(current)
    target = args.to or next(iter(allowed), None)
    if target is None or target not in allowed:
        choices = ", ".join(allowed) or "none: the champion is the starting model"
        raise UserError(f"cannot roll {current} back to {target or 'an ancestor'}; ancestors with weights: {choices}")
    reason = f"rolled back by the user from {current} to its ancestor {target}"
    round_no = snapshot.values.get("round", 0)
    store.set_champion(target, reason=reason, round_no=round_no)
    decision = Decision(round=round_no, stage="rollback", verdict="rollback", route="end", reason=reason)
    # As if the last gate had decided it: the run stays finished, with the new champion and the decision.
    app.update_state(THREAD, {"champion": target, "decisions": [decision]}, as_node="gate_plan")
    ctx.log(reason)
    print(f"champion: {target}")
    return 0


def cmd_exec(args: argparse.Namespace) -> int:
    from ..sandbox import Limits

    try:
        code = args.file.read_text()
    except OSError as exc:
        raise UserError(f"cannot read {args.file}: {exc.strerror}; give a Python file") from None
    with _sandbox(args.sandbox) as sandbox:
        result = sandbox.run(code, limits=Limits(wall_s=args.timeout, cpu_s=args.timeout))
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        print(
            f"[exit {result.exit_code}, {result.duration_s:.3f} s"
            + (f", stopped: {result.stopped}]" if result.stopped else "]"),
            file=sys.stderr,
        )
    return 0 if result.exit_code == 0 and not result.stopped else 1


def cmd_seed(args: argparse.Namespace) -> int:
    from ..tools.tasks import get_family
    from ..trainers import TrainingError
    from ..trainers.scratch import check_seedable, seed_model

    try:
        family = get_family(args.task)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    output = args.output or Path("seeds") / f"{args.task}-{args.max_level}"
    params = SeedParams(**{f.name: getattr(args, f.name) for f in fields(SeedParams)})
    try:
        check_seedable(family, args.max_level)
        print(f"autodidact: training a model from scratch on {args.task} levels 1-{args.max_level}", file=sys.stderr)
        report = seed_model(family, output, params)
    except TrainingError as exc:
        raise UserError(str(exc)) from None
    print(f"{report['parameters']:,} parameters, {report['steps']} steps in {report['train_s']:.0f} s")
    print("level  held-out exact match")
    for level, accuracy in report["accuracy"].items():
        trained = "trained" if int(level) <= args.max_level else "unseen"
        print(f"{level:>5}  {accuracy:6.1%}  ({trained})")
    print(f'model: {output}  (autodidact run "..." --tasks {args.task} --model {output})')
    return 0


def _listing(rows: list[dict[str, Any]], group: str, as_json: bool) -> int:
    from ..plugins import broken

    failed = [{"name": p.name, "origin": p.origin, "error": p.error} for p in broken(group)]
    if as_json:
        print(json.dumps([*rows, *({**f, "broken": True} for f in failed)], indent=2))
        return 0
    width = max((len(r["name"]) for r in rows), default=4)
    for r in rows:
        levels = f" [levels {r['levels']}]" if "levels" in r else ""
        print(f"{r['name']:<{width}}  {r['description']}{levels}  (from {r['origin']})")
    for f in failed:
        print(f"{f['name']:<{width}}  BROKEN: {f['error']}  (from {f['origin']})")
    return 0


def cmd_tasks(args: argparse.Namespace) -> int:
    from ..plugins import discover

    load_plugins(args.plugin)
    rows = []
    for p in discover("tasks"):
        if p.error is None:
            levels = list(p.value.levels)
            shown = f"{levels[0]}-{levels[-1]}" if levels == list(range(levels[0], levels[-1] + 1)) else levels
            rows.append({"name": p.name, "description": p.description, "levels": shown, "origin": p.origin})
    return _listing(rows, "tasks", args.json)


def cmd_tools(args: argparse.Namespace) -> int:
    from ..tools import agent_tools

    load_plugins(args.plugin)
    rows = [{"name": t.name, "description": t.description.strip().splitlines()[0], "origin": origin}
            for t, origin in agent_tools()]  # fmt: skip
    return _listing(rows, "tools", args.json)


def _quiet_libraries() -> None:
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
    "exec": cmd_exec,
    "seed": cmd_seed,
    "tasks": cmd_tasks,
    "tools": cmd_tools,
}


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = build_parser().parse_args(argv)
    _quiet_libraries()
    from ..tools.models import ModelError

    try:
        return COMMANDS[args.command](args)
    except (UserError, ModelError) as exc:
        print(f"autodidact: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("autodidact: interrupted; continue with autodidact resume RUN_DIR", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
