"""What the nodes share besides the state: the configuration, the run directory, and loaded resources.

Resources (models, the sandbox, the held-out set) are loaded lazily and cached, so building the graph is
cheap (for `trace`) and a resumed run loads only what its remaining nodes need.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ..sandbox import Sandbox, get_sandbox
from ..tools.generate import SamplingParams
from ..tools.inference import BACKENDS, Backend, choose_backend
from ..tools.tasks import Task, TaskFamily, Verdict, family_class, verify_each
from ..tools.tasks.written import Written
from .config import RunConfig
from .labels import LabelFilter, label_filter
from .memory import give_back
from .rundir import RunDir, read_jsonl, write_jsonl


@dataclass
class RunContext:
    config: RunConfig
    run: RunDir
    quiet: bool = False
    _generators: dict[str, Any] = field(default_factory=dict)
    _families: dict[str, TaskFamily] = field(default_factory=dict)
    _sandbox: Sandbox | None = None
    _cluster: Any = None
    usage: dict[str, float] = field(
        default_factory=lambda: {"sandbox_s": 0.0, "tokens": 0, "train_steps": 0, "transfer_s": 0.0}
    )
    """What this process has spent (the graph adds each node's share to the state's `usage`; `transfer_s`, the
    transfer benchmark's seconds, is outside the nodes: `planning/clock.py`)."""
    _transfer_bench: Any = None
    echo: Callable[[str], None] | None = None
    """Where else each progress line goes (Studio streams them)."""

    def log(self, message: str) -> None:
        self.run.log(message)
        if not self.quiet:
            print(f"autodidact: {message}", file=sys.stderr, flush=True)
        if self.echo is not None:
            self.echo(message)

    # -- resources ---------------------------------------------------------------------------------------
    def family(self, name: str) -> TaskFamily:
        """The task family `name`, configured for this run (loaded once)."""
        if name not in self._families:
            if name == Written.name:  # the tasks the planner wrote, in this run's directory
                self._families[name] = Written(self.run.written_file)
            else:
                self._families[name] = family_class(name).configured(task_file=self.config.tasks.task_file)
        return self._families[name]

    def forget_family(self, name: str) -> None:
        """Load `name` afresh next time (its tasks changed)."""
        self._families.pop(name, None)

    @property
    def sandbox(self) -> Sandbox:
        if self._sandbox is None:
            self._sandbox = get_sandbox(self.config.sandbox)
        return self._sandbox

    @property
    def cluster(self) -> Any:
        """The Ray cluster that samples, verifies and evaluates (`tools.cluster`), connected on first use and checked
        to see the run directory; None with `--cluster local`."""
        if self.config.cluster == "local":
            return None
        if self._cluster is None:
            from ..tools.cluster import Cluster

            here = self.run.path.resolve()
            self._cluster = Cluster.connect(self.config, [str(here)], here)
            self.log(f"cluster: {self._cluster.describe()}")
        self._cluster.on_retry = self._log_retry
        return self._cluster

    def _log_retry(self, event: dict[str, Any]) -> None:
        self.log(
            f"cluster: {event['what']} actor {event['actor']} died ({event['error']}); its call {event['call']} went "
            "again to the next free actor"
        )

    def cluster_retries(self) -> list[dict[str, Any]]:
        """The calls sent again after the actor running them died, in this process so far."""
        return list(self._cluster.retries) if self._cluster is not None else []

    def verify_all(self, pairs: list[tuple[Task, str]], progress: Any = None) -> list[Verdict]:
        """Verify each (task, code) in the run's sandbox (`verify_each`; on the cluster's sandbox actors with
        `--cluster ray`), counting the sandbox time spent."""
        cluster = self.cluster
        verdicts = cluster.verify(pairs, progress) if cluster else verify_each(pairs, self.sandbox, progress)
        self.usage["sandbox_s"] += sum(v.duration_s for v in verdicts)
        return verdicts

    def tokens_generated(self) -> int:
        """Tokens the transformers backend has generated in this process."""
        return int(self.usage["tokens"]) + sum(g.generated_tokens for g in self._generators.values())

    def close(self) -> None:
        """Stop the sandbox's workers or containers, and the cluster's actors."""
        if self._sandbox is not None:
            self._sandbox.close()
        if self._cluster is not None:
            for location in list(self._generators):
                self.forget(location)
            self._cluster.close()
            self._cluster = None

    def resolve(self, location: str) -> str:
        """Model locations inside the run directory are stored relative to it."""
        path = self.run.path / location
        return str(path) if not Path(location).is_absolute() and path.exists() else location

    @cached_property
    def backend(self) -> Backend:
        """The run's inference backend (`auto` is settled when a run is configured; a config made in code may still
        say auto, settled here once)."""
        name = self.config.inference.backend
        return BACKENDS[choose_backend(self.config)[0] if name == "auto" else name]

    @cached_property
    def label_filter(self) -> LabelFilter:
        """The run's label filter: which sampled answers become training data."""
        return label_filter(self.config.selection.label_filter)

    def generator(self, location: str) -> Any:
        """The sampler of the model at `location` on the run's inference backend (`tools.inference`)."""
        if location not in self._generators:
            if len(self._generators) >= 2:  # champion and candidate at most
                self.forget(next(iter(self._generators)))
            cluster = self.cluster
            if cluster is not None:
                from ..tools.cluster import ClusterGenerator

                self._generators[location] = ClusterGenerator(cluster, self.resolve(location), self.config)
            else:
                self._generators[location] = self.backend.make(self.resolve(location), self.config)
        return self._generators[location]

    def serve(self, location: str) -> str | None:
        """Make sure the backend's server serves the checkpoint at `location` (a promoted LoRA adapter is loaded
        into it); the name it is served under, or None for an in-process backend."""
        if not self.backend.serves:
            return None
        gen = self.generator(location)
        gen.load_adapter()
        return str(gen.name)

    def chat_model(self, kind: str, model: str | None, base_url: str | None, champion: str) -> Any:
        """The chat model of the planner or critic: `self` is the champion, served as the backend serves it; `llm`
        the model `model` on the OpenAI-compatible server at `base_url`."""
        from ..tools.chat import ChatError, LocalChat, OpenAIChat

        timeout = self.config.agent.planner_timeout_s
        if kind == "self":
            gen = self.generator(champion)
            if self.backend.serves:
                return OpenAIChat(self.config.inference.backend_url or "", gen.name, timeout_s=timeout)
            return LocalChat(gen)
        if not model or not base_url:
            raise ChatError("config", "the chat model needs a model name and a server URL")
        return OpenAIChat(base_url, model, timeout_s=timeout)

    def release_samplers(self) -> None:
        """Drop the samplers that hold weights in this process (before training: one model in memory at a time;
        the next call reloads them), and hand their memory back to the kernel: training then starts from ~0.6 GB
        in use instead of the ~2 GB the decoding left in the heap. A server's adapters stay loaded."""
        if not self.backend.serves:
            for location in list(self._generators):
                self.forget(location)
            give_back()

    def forget(self, location: str) -> None:
        """Drop the sampler of the checkpoint at `location`; an engine or server that holds its adapter unloads it."""
        gone = self._generators.pop(location, None)
        if gone is not None:
            self.usage["tokens"] += gone.generated_tokens
            if hasattr(gone, "release"):
                gone.release()

    # -- the held-out set --------------------------------------------------------------------------------
    def _evaluation_tasks(self, total: int, seed: int, exclude: frozenset[str] = frozenset()) -> list[Task]:
        """`total` evaluation-split tasks shared out over the run's families, none with a prompt in `exclude`
        (drawn twice as many as needed when some must be left out)."""
        tasks: list[Task] = []
        families = self.config.tasks.families
        levels = tuple(self.config.tasks.levels) if self.config.tasks.levels else None
        for i, name in enumerate(families):
            share = total // len(families) + (1 if i < total % len(families) else 0)
            found = self.family(name).heldout(n=2 * share if exclude else share, seed=seed, levels=levels)
            tasks += [t for t in found if t.prompt not in exclude][:share]
        return tasks

    def make_heldout(self) -> None:
        """The held-out set, and the guard candidates: evaluation-split tasks from another seed stream, disjoint
        from the held-out set. Those the starting model solves become the guard set (see `guard`); all of them
        are kept out of training."""
        heldout = self._evaluation_tasks(self.config.evaluation.heldout_tasks, self.config.seed)
        write_jsonl(self.run.heldout_file, (t.to_dict() for t in heldout))
        taken = frozenset(t.prompt for t in heldout)
        guard = self._evaluation_tasks(self.config.evaluation.guard_tasks, self.config.seed + 7919, exclude=taken)
        write_jsonl(self.run.guard_file, (t.to_dict() for t in guard))

    def heldout(self) -> list[Task]:
        return [Task.from_dict(r) for r in read_jsonl(self.run.heldout_file)]

    def guard_candidates(self) -> list[Task]:
        path = self.run.guard_file
        return [Task.from_dict(r) for r in read_jsonl(path)] if path.exists() else []

    def guard(self, base_model: str) -> list[Task]:
        """The guard set: the candidates the starting model solves (greedy), evaluated once and cached."""
        candidates = self.guard_candidates()
        if not candidates:
            return []
        results = self.eval_results(base_model, "guard-base", tasks=candidates)
        return [t for t, r in zip(candidates, results, strict=True) if r["passed"]]

    # -- evaluation, cached per model --------------------------------------------------------------------
    def eval_results(
        self, location: str, key: str, progress: Any = None, tasks: list[Task] | None = None
    ) -> list[dict[str, Any]]:
        """Greedy pass@1 of the model at `location` on every held-out task, or on `tasks` (cached in
        data/eval/KEY.jsonl)."""
        path = self.run.eval_file(key)
        if path.exists():
            return read_jsonl(path)
        tasks = self.heldout() if tasks is None else tasks
        gen = self.generator(location)
        longest = max(
            (self.family(t.family).answer_length(self.config.sampling.max_new_tokens) for t in tasks), default=1
        )
        replies = gen.complete(
            [t.prompt for t in tasks],
            SamplingParams(n=1, temperature=0.0, max_new_tokens=longest),
            progress=progress,
        )
        codes = [self.family(t.family).extract(reply, t) for t, (reply,) in zip(tasks, replies, strict=True)]
        verdicts = self.verify_all(list(zip(tasks, codes, strict=True)))
        rows = []
        for task, (reply,), code, verdict in zip(tasks, replies, codes, verdicts, strict=True):
            rows.append(
                {
                    "task_id": task.id,
                    "template": task.template,
                    "difficulty": task.difficulty,
                    "unseen_template": bool(task.hidden.get("unseen_template")),
                    "passed": verdict.passed,
                    "feedback": verdict.feedback,
                    "completion": reply,
                    "form": self.family(task.family).answer_form(code),
                }
            )
        write_jsonl(path, rows)
        return rows


def model_key(location: str, base_model: str) -> str:
    """A short file-name key for a model: `base` for the starting model, else its directory name."""
    if location == base_model:
        return "base"
    name = Path(location).name
    return name if name.startswith("round-") else "m-" + hashlib.sha256(location.encode()).hexdigest()[:10]
