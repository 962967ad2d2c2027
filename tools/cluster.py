"""Sampling, verification and evaluation on a Ray cluster (`--cluster ray`, `--cluster ray://HOST:PORT`).

The graph, the gate and the checkpointed state stay in this process (the driver); the work that grows with a
round is sharded over Ray actors, placed node by node:

- rollout actors (`RolloutWorker`): one per node, one per GPU on a GPU node. Each loads the checkpoint it samples
  from once, by path, when it starts: the run directory must be on storage every node mounts (`Cluster.check_paths`
  says so at the start of a run if it is not). A call's batches (`tools.generate.batches`) go to whichever actor is
  free, each seeded by its place in the call, so the answers are those the same call draws in one process.
- sandbox actors (`SandboxWorker`): one per node, each with that node's own sandbox (`--sandbox`), verify slices of
  a call's (task, code) pairs.

Results come back in the call's order and format. An actor that dies mid-call is restarted by Ray
(`max_restarts`); the batches or slices it had not returned go again to whichever actor is free (`Shards.run`),
each result is taken once, and each retry is kept in `Cluster.retries` and told to `Cluster.on_retry` (the run
logs it; the acquire decision counts its own).
Ray is an optional extra (`pip install 'autodidact[ray]'`); nothing here imports it before a cluster is asked for.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from .generate import ChatSampler, SamplingParams, batch_seed, batches
from .models import load_tokenizer

SANDBOX_CONCURRENCY = 2
"""Slices a sandbox actor verifies at once (its sandbox is thread-safe): one fills its workers while another ends."""
VERIFY_SLICE = 32
"""(task, code) pairs a sandbox actor verifies per call (its sandbox runs them on its own workers)."""
RETRIES = 3
"""Times one batch or slice is sent again after the actor running it died, before the call fails."""
PROBE_S = 0.5
"""Seconds between probes of an actor Ray is restarting."""


class ClusterError(RuntimeError):
    """The cluster cannot do what the run needs (one line, with the fix)."""


def ray_address(cluster: str) -> str:
    """The address `ray.init` connects to for `--cluster VALUE`: `ray` means RAY_ADDRESS, else the cluster
    running on this machine (`auto`); anything else is an address (`ray://HOST:PORT` or `HOST:PORT`)."""
    if cluster == "ray":
        return os.environ.get("RAY_ADDRESS") or "auto"
    return cluster


def cluster_problem(cluster: str) -> str | None:
    """Why `--cluster VALUE` cannot be used here (one line with the fix), or None."""
    if cluster == "local":
        return None
    if not (cluster == "ray" or cluster.startswith("ray://") or ":" in cluster):
        return (
            f"--cluster {cluster}: choose local, ray (RAY_ADDRESS, or the cluster on this machine), or ray://HOST:PORT"
        )
    try:
        import ray  # noqa: F401
    except ImportError:
        return f"--cluster {cluster} needs Ray: pip install 'autodidact[ray]' (or use --cluster local)"
    return None


class RolloutWorker:
    """A Ray actor's body: the sampler of one checkpoint on the run's inference backend, loaded once."""

    def __init__(self, location: str, config: Any, threads: int) -> None:
        from ..agent.run import load_plugins
        from .inference import BACKENDS

        self.threads = threads
        load_plugins(config.plugins)
        self.gen = BACKENDS[config.inference.backend].make(location, config)

    def complete_raw(self, prompts: list[str], params: SamplingParams) -> list[list[str]]:
        """The answers. The actor decodes `decode_workers` calls at once, each on its share of the node's cores, as
        our decode loop decodes its batches in one process (the same threads per batch: the same sums, the same
        answers)."""
        import torch

        torch.set_num_threads(self.threads)  # this call's thread
        return self.gen.complete_raw(prompts, params)  # type: ignore[no-any-return]

    def pid(self) -> int:
        return os.getpid()


class SandboxWorker:
    """A Ray actor's body: this node's sandbox, verifying (task, code) pairs with their families' verifiers."""

    def __init__(self, sandbox: str, plugins: list[str]) -> None:
        from ..agent.run import load_plugins
        from ..sandbox import get_sandbox

        load_plugins(plugins)
        self.sandbox = get_sandbox(sandbox)

    def verify(self, pairs: list[tuple[Any, str]]) -> list[Any]:
        from .tasks import verify_each

        return verify_each(pairs, self.sandbox)

    def close(self) -> None:
        self.sandbox.close()

    def pid(self) -> int:
        return os.getpid()


def _answers(address: str, timeout_s: float = 5.0) -> str | None:
    """Why nothing listens at a `HOST:PORT` or `ray://HOST:PORT` address (None if something does, or for `auto`):
    `ray.init` would retry such an address for minutes."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return None
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def _sees(paths: list[str], probe: tuple[str, str] | None) -> list[str]:
    """The paths this node cannot see: missing ones, and a probe file whose content differs (another disk)."""
    missing = [p for p in paths if not Path(p).exists()]
    if probe is not None:
        file, content = probe
        try:
            same = Path(file).read_text(encoding="utf-8") == content
        except OSError:
            same = False
        if not same:
            missing.append(str(Path(file).parent))
    return missing


class Shards:
    """Calls of one method spread over a set of actors, a few in flight on each, results in the calls' order."""

    def __init__(
        self, actors: list[Any], what: str, note: Callable[[dict[str, Any]], None], concurrency: int = 1
    ) -> None:
        self.actors = actors
        self.what = what
        self.in_flight = concurrency + 1
        """Calls each actor holds: as many as it runs at once, and one waiting, so it never idles between two."""
        self.up = [True] * len(actors)
        """Which actors take calls: one that died gets none until it answers a probe (across calls of `run`)."""
        self.gone: set[int] = set()
        """Actors that cannot be restarted (their constructor failed)."""
        self.note = note
        """Told of each call sent again after its actor died."""
        self.last_error = ""

    def run(self, method: str, calls: Sequence[tuple[Any, ...]], done: Callable[[int, Any], None]) -> list[Any]:
        """`method(*call)` for each call on some actor; `done(i, result)` as each returns.

        When an actor dies, the calls it held go back to the queue and it gets no more until it answers a probe
        again (Ray restarts it and reloads what it holds); an actor that cannot be restarted (its constructor
        failed) leaves the set. A call is sent again at most `RETRIES` times."""
        import ray
        from ray.exceptions import RayActorError

        results: list[Any] = [None] * len(calls)
        queue = deque(range(len(calls)))
        up, gone = self.up, self.gone
        # ref -> (call, actor); call -1 is a probe of an actor that died (still restarting from an earlier call?)
        flying: dict[Any, tuple[int, int]] = {
            self.actors[a].pid.remote(): (-1, a) for a in range(len(self.actors)) if not up[a] and a not in gone
        }
        load = [0] * len(self.actors)
        tries = [0] * len(calls)
        while queue or any(i >= 0 for i, _ in flying.values()):
            if len(gone) == len(self.actors):
                raise ClusterError(f"every {self.what} actor died and cannot be restarted: {self.last_error}")
            placed = True
            while queue and placed:  # one call to each free actor in turn, so all start at once
                placed = False
                for a, actor in enumerate(self.actors):
                    if queue and up[a] and load[a] < self.in_flight:
                        i = queue.popleft()
                        flying[getattr(actor, method).remote(*calls[i])] = (i, a)
                        load[a] += 1
                        placed = True
            [ref], _ = ray.wait(list(flying), num_returns=1)
            i, a = flying.pop(ref)
            try:
                result = ray.get(ref)
            except RayActorError as exc:
                lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
                self.last_error = lines[-1] if lines else type(exc).__name__
                if exc.actor_init_failed:  # its constructor failed: a restart would fail the same way
                    gone.add(a)
                    up[a] = False
                    if i >= 0:
                        load[a] -= 1
                        queue.appendleft(i)
                    continue
                if i >= 0:
                    load[a] -= 1
                    tries[i] += 1
                    self.note({"what": self.what, "call": i, "actor": a, "error": type(exc).__name__})
                    if tries[i] > RETRIES:
                        raise ClusterError(
                            f"{self.what} actor {a} died {tries[i]} times running the same call "
                            f"({self.last_error}); check the nodes with `ray status`, or run with --cluster local"
                        ) from None
                    queue.appendleft(i)
                if i < 0 or up[a]:  # probe it until it answers again
                    if i < 0:
                        time.sleep(PROBE_S)
                    up[a] = False
                    flying[self.actors[a].pid.remote()] = (-1, a)
                continue
            if i < 0:
                up[a] = True
                continue
            load[a] -= 1
            results[i] = result
            done(i, result)
        return results  # probes still out are dropped: their actors come back on their own

    def release(self, closing: str | None = None) -> None:
        """Stop the actors (after each has run its `closing` method, where given)."""
        import ray

        if closing:
            ray.wait([getattr(a, closing).remote() for a in self.actors], num_returns=len(self.actors), timeout=30)
        for actor in self.actors:
            ray.kill(actor)
        self.actors = []


class ClusterGenerator(ChatSampler):
    """Samples from one checkpoint on the cluster's rollout actors; the interface of `tools.generate.Generator`
    (`complete`, `complete_raw`, `chat_prompt`, `tokenizer`, `generated_tokens`, `batch_size`, `workers`)."""

    def __init__(self, cluster: Cluster, location: str, config: Any) -> None:
        location = str(Path(location).resolve()) if Path(location).exists() else location
        self.location = location
        self.batch_size = config.sampling.batch_size
        self.tokenizer = load_tokenizer(location)
        concurrency = max(1, config.sampling.decode_workers)
        self.shards = Shards(cluster.rollout_actors(location, config), "rollout", cluster.note_retry, concurrency)
        self.workers = len(self.shards.actors) * concurrency
        self.generated_tokens = 0

    def complete_raw(
        self, prompts: Sequence[str], params: SamplingParams, progress: Callable[[int], None] | None = None
    ) -> list[list[str]]:
        chunks = batches(prompts, params.n, self.batch_size)
        calls = [
            ([p for _, p in chunk], replace(params, n=1, seed=batch_seed(params.seed, place)))
            for place, chunk in enumerate(chunks)
        ]

        def done(place: int, texts: list[list[str]]) -> None:
            # The answers' tokens (what the actors generated, less each end token), counted here: an actor decodes
            # several calls at once and cannot tell one call's tokens from another's.
            self.generated_tokens += sum(
                len(self.tokenizer(t, add_special_tokens=False)["input_ids"]) for (t,) in texts
            )
            if progress:
                progress(len(chunks[place]))

        results = self.shards.run("complete_raw", calls, done)
        out: list[list[str]] = [[] for _ in prompts]
        for chunk, texts in zip(chunks, results, strict=True):
            for (i, _), (text,) in zip(chunk, texts, strict=True):
                out[i].append(text)
        return out

    def release(self) -> None:
        """Stop the rollout actors (their weights leave the nodes' memory)."""
        self.shards.release()


class Cluster:
    """The Ray cluster a run uses: its nodes, its sandbox actors, and the retries of every call so far."""

    def __init__(self, cluster: str, *, sandbox: str, plugins: list[str]) -> None:
        import ray

        address = ray_address(cluster)
        answer = _answers(address)
        if answer:
            raise ClusterError(
                f"--cluster {cluster}: nothing answers at {address} ({answer}); start the head node with "
                "`ray start --head`, check RAY_ADDRESS, or use --cluster local"
            )
        try:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ClusterError(
                f"--cluster {cluster}: no Ray cluster at {address} ({first}); start one with `ray start --head`, "
                "set RAY_ADDRESS, or use --cluster local"
            ) from None
        self.name = cluster
        self.nodes = [n for n in ray.nodes() if n.get("Alive") and n["Resources"].get("CPU", 0) > 0]
        if not self.nodes:
            raise ClusterError(f"--cluster {cluster}: the Ray cluster has no live node with a CPU")
        self.retries: list[dict[str, Any]] = []
        self.on_retry: Callable[[dict[str, Any]], None] | None = None
        self.sandbox, self.plugins = sandbox, plugins
        self._verifiers: Shards | None = None

    @classmethod
    def connect(cls, config: Any, paths: list[str], shared_dir: Path) -> Cluster:
        """The run's cluster (`config.cluster`, its sandbox and plugins), connected, with every node shown to see
        `paths` and `shared_dir` (`check_paths`); disconnected again if they cannot."""
        cluster = cls(config.cluster, sandbox=config.sandbox, plugins=config.plugins)
        try:
            cluster.check_paths(paths, shared_dir)
        except BaseException:
            cluster.close()
            raise
        return cluster

    def note_retry(self, event: dict[str, Any]) -> None:
        self.retries.append(event)
        if self.on_retry is not None:
            self.on_retry(event)

    def describe(self) -> str:
        cpus = sum(int(n["Resources"].get("CPU", 0)) for n in self.nodes)
        gpus = sum(int(n["Resources"].get("GPU", 0)) for n in self.nodes)
        count = lambda n, what: f"{n} {what}" + ("" if n == 1 else "s")  # noqa: E731
        return f"{count(len(self.nodes), 'node')}, {count(cpus, 'CPU')}, {count(gpus, 'GPU')} at {self.name}"

    def _placed(self, node: dict[str, Any]) -> Any:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        # soft: an actor restarted after its node died may start on another node
        return NodeAffinitySchedulingStrategy(node["NodeID"], soft=True)

    def check_paths(self, paths: list[str], shared_dir: Path) -> None:
        """Every node sees `paths` and the directory `shared_dir` (where the run directory is): a probe file written
        here must read back the same on every node. A ClusterError naming the first node that cannot."""
        import ray

        shared_dir.mkdir(parents=True, exist_ok=True)
        probe = shared_dir / f".autodidact-probe-{secrets.token_hex(6)}"
        content = secrets.token_hex(16)
        probe.write_text(content, encoding="utf-8")
        try:
            sees = ray.remote(_sees)
            placed = [sees.options(num_cpus=0, scheduling_strategy=self._placed(n)) for n in self.nodes]
            found = ray.get([task.remote(paths, (str(probe), content)) for task in placed])
        finally:
            probe.unlink(missing_ok=True)
        for node, missing in zip(self.nodes, found, strict=True):
            if missing:
                raise ClusterError(
                    f"node {node['NodeManagerAddress']} of the Ray cluster cannot see {missing[0]}: put the run "
                    "directory and the model on storage every node mounts at the same path, or use --cluster local"
                )

    def rollout_actors(self, location: str, config: Any) -> list[Any]:
        """Rollout actors for the checkpoint at `location`: one per node, one per GPU on a GPU node, each decoding
        `decode_workers` calls at once, each call on an equal share of the actor's cores."""
        import ray

        workers = max(1, config.sampling.decode_workers)
        actors = []
        for node in self.nodes:
            cpus, gpus = int(node["Resources"].get("CPU", 1)), int(node["Resources"].get("GPU", 0))
            for _ in range(max(1, gpus)):
                threads = max(1, cpus // max(1, gpus) // workers)
                actors.append(
                    ray.remote(RolloutWorker)
                    .options(
                        num_cpus=0,
                        num_gpus=1 if gpus else 0,
                        max_restarts=-1,
                        max_concurrency=workers,
                        scheduling_strategy=self._placed(node),
                    )
                    .remote(location, config, threads)
                )
        return actors

    def verifiers(self) -> Shards:
        """The sandbox actors, one per node (started on first use)."""
        import ray

        if self._verifiers is None:
            actors = [
                ray.remote(SandboxWorker)
                .options(
                    num_cpus=0,
                    max_restarts=-1,
                    max_concurrency=SANDBOX_CONCURRENCY,
                    scheduling_strategy=self._placed(n),
                )
                .remote(self.sandbox, self.plugins)
                for n in self.nodes
            ]
            self._verifiers = Shards(actors, "sandbox", self.note_retry, SANDBOX_CONCURRENCY)
        return self._verifiers

    def verify(self, pairs: list[tuple[Any, str]], progress: Callable[[int], None] | None = None) -> list[Any]:
        """Each (task, code) verified on some node's sandbox; the verdicts in order."""
        calls = [(pairs[start : start + VERIFY_SLICE],) for start in range(0, len(pairs), VERIFY_SLICE)]

        def done(i: int, verdicts: list[Any]) -> None:
            if progress:
                progress(len(verdicts))

        return [v for part in self.verifiers().run("verify", calls, done) for v in part]

    def close(self) -> None:
        import ray

        if self._verifiers is not None:
            self._verifiers.release(closing="close")
        ray.shutdown()


__all__ = ["Cluster", "ClusterError", "ClusterGenerator", "cluster_problem", "ray_address"]
