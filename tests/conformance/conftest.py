"""Fixtures of the conformance suite: the same tests run against every sandbox backend available here.

A backend that cannot run here is skipped with its reason, except Docker where AUTODIDACT_REQUIRE_DOCKER is
set (CI sets it after starting its own engine), so a missing engine fails instead of passing silently.
"""

from __future__ import annotations

import pytest
from conftest import need_backend

from autodidact.sandbox import BACKENDS, DockerSandbox, LocalSandbox, Sandbox

VARIANTS = {
    "local": lambda: BACKENDS["local"](),
    # The fallbacks for a machine without seccomp or namespaces: the tests that need them skip, the rest must hold.
    "local-fallbacks": lambda: LocalSandbox(off=("seccomp", "netns", "pidns"), workers=2),
    "docker": lambda: DockerSandbox(),
    "docker-reuse": lambda: DockerSandbox(reuse=True),
    "e2b": lambda: BACKENDS["e2b"](),
}
# E2B runs only with a key; without one, tests/test_e2b_mapping.py says so once instead of once per case here.
PARAMS = [
    pytest.param(name, marks=pytest.mark.docker) if name.startswith("docker") else name
    for name in VARIANTS
    if name != "e2b" or BACKENDS["e2b"].available()[0]
]


@pytest.fixture(scope="module", params=PARAMS)
def sandbox(request) -> Sandbox:
    name = request.param
    need_backend(name.split("-")[0])
    sb = VARIANTS[name]()
    yield sb
    sb.close()


@pytest.fixture(scope="module")
def isolation(sandbox) -> tuple[str, ...]:
    """The protections the runs of this backend get on this machine."""
    return sandbox.run("pass").isolation


def relies_on(isolation: tuple[str, ...], *protections: str) -> None:
    """Skip unless the runs have at least one of `protections` (names from ExecResult.isolation)."""
    if not set(isolation) & set(protections):
        pytest.skip(f"the runs here have none of: {', '.join(protections)}")
