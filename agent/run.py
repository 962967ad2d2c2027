"""Where a run starts and is taken up again: the one path the CLI, LangGraph Studio, `bench/` and the tests share.

    config = configure("get better at writing small Python functions", {"sampling.samples_per_task": 8})
    ctx, initial = create_run(Path("runs/mine"), config)
    execute(ctx, initial, "run")                    # the graph until it ends; the trace, as a dict
    ctx = open_run(Path("runs/mine"))               # resume, trace, report, rollback

`configure` turns what a user said (a goal and settings by name) into a checked `RunConfig`: the task families
the goal asks for, their run defaults under the user's settings, and every choice checked against its registry.
Whatever is wrong is a `UserError` with one line that says what and how to fix it, raised before anything is
written.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

from .config import RunConfig, locate
from .errors import UserError
from .planning.budget import heldout_for_budget
from .transfer import bench_of, measure

REGISTRIES = {
    "sandbox": ("sandboxes", "--sandbox"),
    "training.trainer": ("trainers", "--trainer"),
    "agent.planner": ("planners", "--planner"),
    "agent.critic": ("critics", "--critic"),
    "inference.backend": ("backends", "--backend"),
    "selection.label_filter": ("label_filters", "--label-filter"),
}


def default_run_dir(goal: str) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "-", goal.lower()).strip("-")[:40] or "run"
    return Path("runs") / f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}"


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


def configure(
    goal: str,
    settings: dict[str, Any] | None = None,
    *,
    plugins: list[str] = (),  # type: ignore[assignment]
    train_params: dict[str, dict[str, Any]] | None = None,
) -> RunConfig:
    """The run's configuration: defaults, then the task families' run defaults, then `settings` (by field name
    or SECTION.FIELD), then the per-method `train_params`; checked, with one-line errors."""
    settings = dict(settings or {})
    loaded = load_plugins(list(plugins))
    named = {_canonical(k): v for k, v in settings.items()}
    for name in REGISTRIES:  # a choice the user named is checked first: it needs no goal to be wrong
        if name in named:
            _check_name(name, named[name])
    goal = goal.strip()
    if not goal:
        raise UserError(
            'the goal is empty; say what to get better at, e.g. autodidact run "write small Python functions"'
        )
    families, choice = _families(goal, named.pop("tasks.families", None))
    task_file = named.pop("tasks.task_file", None)
    chosen = _configured(families, task_file)
    levels = _levels(named.pop("tasks.levels", None), families, chosen)
    config = RunConfig(goal=goal)
    config.plugins = loaded
    config.tasks.families, config.tasks.task_choice, config.tasks.levels = families, choice, levels
    config.tasks.task_file = str(Path(task_file).resolve()) if task_file else None
    defaults: dict[str, Any] = {}
    for family in reversed(chosen):  # the first family's defaults where they differ
        defaults.update(family.run_defaults)
    params = defaults.pop("train_params", {})
    if "training.learning_rate" in named:  # the user's rate reaches every trainer, over a family's own rates
        params = {m: {k: v for k, v in p.items() if "learning_rate" not in k} for m, p in params.items()}
    for name, value in defaults.items():
        config.set(name, value)
    for name, value in named.items():
        config.set(name, value)
    if not {"evaluation.heldout_tasks"} & (named.keys() | {_canonical(k) for k in defaults}):
        config.evaluation.heldout_tasks = heldout_for_budget(config)
    for method, values in (train_params or {}).items():
        params[method] = {**params.get(method, {}), **values}
    config.training.params = params
    config.tasks.breadth = _breadth(config.tasks.breadth, families)
    _check_choices(config, samples_given=named.get("sampling.samples_per_task"))
    return config


def _breadth(given: Any, families: list[str]) -> list[str]:
    """The breadth families: known, other than the goal's, and able to make tasks on their own."""
    from ..tools.tasks import FAMILIES

    names = [f.strip() for f in (given.split(",") if isinstance(given, str) else given or []) if f.strip()]
    for name in names:
        if name not in FAMILIES or FAMILIES[name].run_only or name == "jsonl":
            choices = ", ".join(sorted(n for n, c in FAMILIES.items() if not c.run_only and n != "jsonl"))
            raise UserError(f"--breadth {name}: not a task family that makes its own tasks; choose from: {choices}")
    return [n for n in dict.fromkeys(names) if n not in families]


def _canonical(name: str) -> str:
    try:
        section, key = locate(name)
    except ValueError as exc:
        raise UserError(f"{exc}; `autodidact run --help` lists them") from None
    return key if section is None else f"{section}.{key}"


def _families(goal: str, given: Any) -> tuple[list[str], dict[str, Any] | None]:
    from ..tools.tasks import FAMILIES

    choice = None
    if given is None:
        from .goals import match_families

        try:
            choice = match_families(goal, {n: c for n, c in FAMILIES.items() if not c.run_only}).to_dict()
        except ValueError as exc:
            raise UserError(str(exc)) from None
        families = list(choice["families"])
    else:
        families = [f.strip() for f in (given.split(",") if isinstance(given, str) else given) if f.strip()]
    unknown = [f for f in families if f not in FAMILIES]
    if unknown or not families:
        raise UserError(
            f"unknown task family {', '.join(unknown) or '(none)'}; choose from: {', '.join(sorted(FAMILIES))}"
        )
    return families, choice


def _configured(families: list[str], task_file: str | None) -> list[Any]:
    from ..tools.tasks import FAMILIES
    from ..tools.tasks.jsonl import TaskFileError

    try:
        return [FAMILIES[f].configured(task_file=task_file) for f in families]
    except TaskFileError as exc:
        raise UserError(str(exc)) from None


def _levels(given: Any, families: list[str], chosen: list[Any]) -> list[int] | None:
    if not given:
        return None
    known = sorted(set.intersection(*(set(f.levels) for f in chosen)))
    text = given if isinstance(given, str) else ",".join(map(str, given))
    try:
        levels = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        levels = []
    if not levels or not set(levels) <= set(known):
        raise UserError(
            f"--levels {text}: give comma-separated levels of {', '.join(families)} "
            f"({known[0]}-{known[-1]}), e.g. --levels {','.join(map(str, known[:2]))}"
        )
    return levels


def _check_name(name: str, value: Any) -> None:
    """`value` names a registered plugin of the kind the setting `name` chooses (a trainer may also be auto)."""
    from ..plugins import Registry

    group, flag = REGISTRIES[name]
    registry = Registry(group)
    auto = name in ("training.trainer", "inference.backend")
    if value not in registry and not (auto and value == "auto"):
        extra = "auto or " if auto else ""
        raise UserError(f"{flag} {value}: choose {extra}one of {', '.join(registry)}")


def _check_choices(config: RunConfig, samples_given: int | None) -> None:
    """Every choice names a registered plugin; each chosen one accepts the run's settings (its own check)."""
    for name in REGISTRIES:
        _check_name(name, config.get(name))
    from ..trainers import PARAMS

    for method, values in config.training.params.items():
        if method not in PARAMS:
            raise UserError(f"--train-param {method}.*: METHOD must be one of {', '.join(PARAMS)}")
        names = {f.name for f in fields(PARAMS[method])}
        for key in values:
            if key not in names:
                raise UserError(f"--train-param {method}.{key}: {method} has no hyper-parameter {key!r}")
    agent = config.agent
    agent.critic_model = agent.critic_model or agent.planner_model
    agent.critic_base_url = agent.critic_base_url or agent.planner_base_url
    from ..tools.inference import BACKENDS, choose_backend
    from .critics import CRITICS
    from .labels import label_filter
    from .planning import PLANNERS

    if config.inference.backend == "auto":
        config.inference.backend, config.inference.backend_choice = choose_backend(config)
    backend = BACKENDS[config.inference.backend]
    from ..tools.cluster import cluster_problem

    problem = cluster_problem(config.cluster)
    if problem:
        raise UserError(problem)
    if config.cluster != "local" and backend.serves:
        raise UserError(f"--backend {backend.name} samples on its own server: use --cluster local with it")
    for problem in (
        PLANNERS[agent.planner].check(config),
        CRITICS[agent.critic].check(config),
        backend.check(config),
        label_filter(config.selection.label_filter).settle(config, samples_given),
    ):
        if problem:
            raise UserError(problem)
    if backend.lora_adapters:
        if config.training.adapter == "full":
            raise UserError(f"--backend {backend.name} serves each candidate as a LoRA adapter: drop --adapter full")
        config.training.adapter, config.training.lora_output = "lora", "adapter"


def check_sandbox(name: str) -> Any:
    """The sandbox backend `name`, started, or a one-line error saying why it cannot run here."""
    from ..sandbox import get_sandbox

    try:
        return get_sandbox(name)
    except ValueError as exc:
        raise UserError(f"{exc}; or use --sandbox local") from None


def connect_cluster(config: RunConfig, location: str, run_dir: Path) -> Any:
    """The Ray cluster of `--cluster`, connected, with every node shown to see the starting model and the directory
    the run will be made in (before anything is written there); None for `--cluster local`."""
    if config.cluster == "local":
        return None
    from ..tools.cluster import Cluster

    model = Path(location)
    return Cluster.connect(config, [str(model.resolve())] if model.exists() else [], run_dir.resolve().parent)


def create_run(
    run_dir: Path | None, config: RunConfig, *, quiet: bool = True, sandbox: Any = None
) -> tuple[Any, dict[str, Any]]:
    """Create the run directory (default: runs/TIME-GOAL), its held-out and guard sets and champion pointer:
    (context, initial state). The directory, the sandbox and the model are checked before anything is written."""
    from ..tools.models import check_model
    from .context import RunContext
    from .rundir import RunDir
    from .state import initial_state

    run_dir = run_dir or default_run_dir(config.goal)
    RunDir.check_new(run_dir, config.goal)
    sandbox = sandbox or check_sandbox(config.sandbox)
    location = check_model(config.model)
    cluster = connect_cluster(config, location, run_dir)
    run = RunDir.create(run_dir, config)
    run.lock("run")
    ctx = RunContext(config=config, run=run, quiet=quiet, _sandbox=sandbox, _cluster=cluster)
    ctx.log(f"run started in {run_dir}: goal {config.goal!r}, model {location}")
    if cluster is not None:
        ctx.log(f"cluster: {cluster.describe()}")
    if config.tasks.task_choice:
        ctx.log(f"task families: {config.tasks.task_choice['reason']}")
    if config.inference.backend_choice:
        ctx.log(f"inference backend: {config.inference.backend_choice}")
    seed_report = Path(location) / "seed.json"
    if seed_report.is_file():  # a model from `autodidact seed`: say what it was trained on and how well it did
        seeded = json.loads(seed_report.read_text(encoding="utf-8"))
        shown = ", ".join(f"L{k}={v:.0%}" for k, v in seeded.get("accuracy", {}).items())
        ctx.log(f"the model was seeded on {seeded.get('task')} levels 1-{seeded.get('max_level')}: {shown}")
    ctx.make_heldout()
    run.store().set_champion(location, reason="the starting model", round_no=0)
    if bench_of(ctx) is not None:  # the starting model on the transfer benchmark (kept across runs of it)
        measure(ctx, location, "base", shared=True)
    return ctx, dict(initial_state(config.goal, location))


def open_run(run_dir: Path, *, quiet: bool = True, started: bool = True, write: str | None = None) -> Any:
    """The context of an existing run (its plugin files loaded again), for resume, trace, report and rollback;
    `started=False` for a run just created whose graph has not run yet; `write` names the command that will write
    to the run, which takes the writer's lock. A damaged checkpoint database is a UserError with the fix."""
    from .context import RunContext
    from .rundir import RunDir

    run = RunDir.open(run_dir, started=started)
    if write:
        run.lock(write)
    damage = run.check_database() if started else None
    if damage:
        raise UserError(
            f"{run.db_path} is damaged ({damage}); rebuild the run's state from its files with autodidact repair "
            f"{run_dir}"
        )
    config = run.config()
    load_plugins(config.plugins)
    return RunContext(config=config, run=run, quiet=quiet)


def execute(ctx: Any, initial: Any, kind: str, *, started: float | None = None) -> dict[str, Any]:
    """Run (an initial state) or resume (None, or a Command) the graph until it ends or awaits approval; the
    session is recorded, the report written, and the trace returned. `started`: the `time.monotonic()` at which
    the command began; the seconds from then to the graph, less the transfer benchmark's, are recorded as the
    session's `startup_s`, which the wall budget counts (`planning/clock.py`)."""
    from .context import model_key
    from .graph import THREAD, compile_graph, run_graph
    from .planning.clock import startup_seconds
    from .report import write_report
    from .trace import build_trace

    app = compile_graph(ctx)
    start = time.monotonic()
    ctx.run.session({"start": kind, "startup_s": startup_seconds(started, ctx.usage["transfer_s"])})
    status, stopped_by = "interrupted", None
    try:
        values = run_graph(app, initial)
        finished = not app.get_state(THREAD).next
        if finished and bench_of(ctx) is not None and "champion" in values:
            key = model_key(values["champion"], values["base_model"])
            if key != "base":
                measure(ctx, values["champion"], key)  # the final champion on the transfer benchmark
        status = "stopped"
    except KeyboardInterrupt as exc:
        stopped_by = getattr(exc, "signal", "SIGINT")
        raise
    finally:
        ctx.close()
        ctx.run.session({"end": status, **({"signal": stopped_by} if stopped_by else {})})
    try:
        trace = build_trace(ctx, app)
        write_report(ctx, trace)
    finally:
        ctx.run.release()
    if trace["awaiting"]:
        waiting = trace["awaiting"]
        ctx.log(
            f"round {waiting['round']}: {waiting['candidate']} awaits approval ({waiting['reason']}); continue with: "
            f"autodidact resume {ctx.run.path} --approve (or --reject)"
        )
    else:
        took = time.monotonic() - (start if started is None else started)
        ctx.log(f"run finished in {took:.0f} s; champion: {trace['champion']}")
    return dict(trace)
