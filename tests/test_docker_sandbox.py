"""What only the Docker backend does: cleaning up after a harness that was killed."""

from __future__ import annotations

import socket
import subprocess

import pytest
from conftest import need_backend

from autodidact.sandbox import DockerSandbox, Limits
from autodidact.sandbox.docker_sandbox import LABEL, container_config, image_name

pytestmark = pytest.mark.docker


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_containers_of_a_killed_harness_are_removed_by_the_next_one():
    need_backend("docker")
    import docker

    client = docker.from_env()
    config = {**container_config(Limits()), "labels": {LABEL: f"{socket.gethostname()}:{dead_pid()}"}}
    orphan = client.containers.create(image_name(), command=["true"], **config)
    with DockerSandbox() as sandbox:
        mine = sandbox._start_warm(Limits())  # a live owner's container stays
        assert orphan.id not in {c.id for c in client.containers.list(all=True)}
        assert mine.id in {c.id for c in client.containers.list(all=True)}
    assert mine.id not in {c.id for c in client.containers.list(all=True)}
