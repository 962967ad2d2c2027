"""`--cluster ray` on a real two-node Ray cluster: two raylets on this machine (head and worker, 1 CPU each),
started and stopped by the module's fixture (`ray.cluster_utils.Cluster`, which owns their processes).

The same tiny-model run as `--cluster local` must give the same verdicts and the same selected rows, and an actor
killed mid-round must cost a retry, not an attempt."""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import tiny_run_args, trace_of

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def ray_cluster():
    """The address of a two-node Ray cluster on this machine, its temporary directory removed afterwards."""
    pytest.importorskip("ray", reason="Ray is not installed: pip install 'autodidact[ray]'")
    from ray.cluster_utils import Cluster

    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    # `Cluster` writes the head's address to $RAY_TMPDIR/ray/ray_current_cluster (/tmp/ray without it) and does not
    # create that directory: on a machine that never ran Ray it is missing. Keep it inside `temp` too.
    (Path(temp) / "ray").mkdir()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RAY_TMPDIR", temp)
        cluster = Cluster(
            initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False, "temp_dir": temp}
        )
        try:
            cluster.add_node(num_cpus=1)
            yield cluster.address
        finally:
            cluster.shutdown()
            shutil.rmtree(temp, ignore_errors=True)


SAME = ("--budget", "wall=0")
"""No wall budget: a round is then sized by the settings alone, not from the rates this run measured (which differ
between two runs, on a cluster or not), so two runs with one seed plan the same rounds."""


@contextmanager
def one_thread():
    """torch on one thread in this process, as each 1-CPU node's actors run it: a matrix product on two threads
    may sum in another order (and the math library may change its thread count with the machine's load), and the
    answers sampled from a model, or the weights trained, would then differ in the last bits."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def local_run(warm_model, tmp_path_factory) -> Path:
    """The tiny two-round run with --cluster local, on one thread."""
    from autodidact.agent.cli import main

    run_dir = tmp_path_factory.mktemp("local") / "run"
    with one_thread():
        assert main(tiny_run_args(warm_model, run_dir, *SAME)) == 0
    return run_dir


def rows(run: Path, name: str, keys: tuple[str, ...]) -> list[tuple]:
    return [tuple(r[k] for k in keys) for r in map(json.loads, (run / name).read_text().splitlines())]


def acquire_only(run_dir: Path, model: Path, *extra: str) -> dict:
    """Round 1 of the tiny run up to acquire's gate: its state."""
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    from autodidact.agent.cli import build_parser
    from autodidact.agent.cli.run_commands import config_from_args
    from autodidact.agent.graph import THREAD, build_graph
    from autodidact.agent.run import create_run

    args = build_parser().parse_args([*tiny_run_args(model, run_dir, rounds=1), *extra])
    ctx, initial = create_run(run_dir, config_from_args(args))
    try:
        with sqlite3.connect(ctx.run.db_path, check_same_thread=False) as db:
            app = build_graph(ctx).compile(checkpointer=SqliteSaver(db), interrupt_after=["gate_acquire"])
            app.invoke(initial, THREAD, durability="sync")
            return app.get_state(THREAD).values
    finally:
        ctx.close()


def test_a_two_node_cluster_gives_the_local_runs_verdicts_and_rows(
    ray_cluster, local_run, warm_model, tmp_path, monkeypatch, capsys
):
    from autodidact.agent.cli import main

    monkeypatch.setenv("RAY_ADDRESS", ray_cluster)
    run_dir = tmp_path / "ray-run"
    with one_thread():
        assert main(tiny_run_args(warm_model, run_dir, *SAME, "--cluster", "ray")) == 0
    assert "cluster: 2 nodes, 2 CPUs, 0 GPUs at ray" in (run_dir / "run.log").read_text()
    for r in (1, 2):
        attempts = f"data/round-{r}/attempts.jsonl"
        keys = ("task_id", "sample", "completion", "passed")
        assert rows(run_dir, attempts, keys) == rows(local_run, attempts, keys)
        selected = f"data/round-{r}/selected.jsonl"
        assert rows(run_dir, selected, ("prompt", "completion")) == rows(local_run, selected, ("prompt", "completion"))
    local, ray = trace_of(local_run, capsys), trace_of(run_dir, capsys)
    assert ray["cluster"] == "ray" and local["cluster"] == "local"
    decisions = lambda t: [(d["round"], d["stage"], d["verdict"], d["route"]) for d in t["decisions"]]  # noqa: E731
    assert decisions(ray) == decisions(local)
    assert [d["numbers"]["cluster_retries"] for d in ray["decisions"] if d["stage"] == "acquire"] == [0, 0]
    held = lambda run: (run / "data/eval").glob("*.jsonl")  # noqa: E731
    assert sorted(p.name for p in held(run_dir)) == sorted(p.name for p in held(local_run))
    for path in held(local_run):
        assert rows(run_dir, f"data/eval/{path.name}", ("task_id", "passed")) == rows(
            local_run, f"data/eval/{path.name}", ("task_id", "passed")
        )


def test_actors_killed_mid_round_are_restarted_and_their_calls_retried(
    ray_cluster, local_run, warm_model, tmp_path, monkeypatch
):
    """The first time a rollout call and a sandbox call return, the process of the other actor of that kind is
    killed (SIGKILL) while it holds calls: Ray restarts it, the calls it held go again, and round 1's attempts
    and verdicts are those of the local run, none lost or doubled."""
    import ray

    from autodidact.tools import cluster

    killed: dict[str, int] = {}
    run = cluster.Shards.run

    def run_and_kill(self, method, calls, done):
        if self.what in killed or len(self.actors) < 2:
            return run(self, method, calls, done)
        pids = ray.get([a.pid.remote() for a in self.actors])

        def done_and_kill(i, result):
            if self.what not in killed:
                # The first result is from the first placement, which gives call i to actor i % n: kill the other
                # one, which still holds its calls (killing a fixed one, CI once killed the actor that answered).
                other = (i + 1) % len(pids)
                killed[self.what] = other
                os.kill(pids[other], signal.SIGKILL)
            done(i, result)

        return run(self, method, calls, done_and_kill)

    monkeypatch.setattr(cluster.Shards, "run", run_and_kill)
    # Small sandbox calls, so that calls are still waiting when an actor is killed: with 32 pairs a call, a wave's
    # three calls were all in flight at once, and the killed actor might have answered all it held.
    monkeypatch.setattr(cluster, "VERIFY_SLICE", 4)
    monkeypatch.setenv("RAY_ADDRESS", ray_cluster)
    with one_thread():
        state = acquire_only(tmp_path / "killed", warm_model, *SAME, "--cluster", "ray")
    assert set(killed) == {"rollout", "sandbox"}
    assert state["current"]["counts"]["cluster_retries"] >= 2
    log = (tmp_path / "killed" / "run.log").read_text()
    for what, actor in killed.items():
        assert f"{what} actor {actor} died" in log
    attempts = "data/round-1/attempts.jsonl"
    keys = ("task_id", "sample", "completion", "passed")
    assert rows(tmp_path / "killed", attempts, keys) == rows(local_run, attempts, keys)


def test_a_cluster_that_cannot_see_the_run_directory_is_refused_before_anything_is_written(
    ray_cluster, warm_model, tmp_path, monkeypatch
):
    """Each node must read back the probe file the driver writes beside the run directory; here the probe's
    content is changed before the nodes read it, as a node with its own disk at that path would see it."""
    from autodidact.agent.cli import main
    from autodidact.tools import cluster

    def other_disk(paths, probe):
        return cluster._sees(paths, (probe[0], "another disk's content"))

    monkeypatch.setattr(cluster, "_sees", other_disk)
    monkeypatch.setenv("RAY_ADDRESS", ray_cluster)
    run_dir = tmp_path / "unseen" / "run"
    assert main(tiny_run_args(warm_model, run_dir, "--cluster", "ray")) == 2
    assert not run_dir.exists()
    assert not list((tmp_path / "unseen").iterdir())  # the probe file is gone too
