"""The local sandbox enforces its limits and never hangs on what the program leaves behind."""

import time

import pytest

from autodidact.sandbox import Limits, LocalSandbox


@pytest.fixture(scope="module")
def sandbox():
    return LocalSandbox()


def test_runs_code_and_reports(sandbox):
    r = sandbox.run("import sys\nprint('out')\nprint('err', file=sys.stderr)\nsys.exit(3)")
    assert (r.stdout, r.stderr, r.exit_code, r.stopped) == ("out\n", "err\n", 3, None)
    assert r.duration_s > 0


def test_stdin_and_files(sandbox):
    r = sandbox.run(
        "import sys\nprint(sys.stdin.read().upper() + open('data.txt').read())", stdin="abc", files={"data.txt": "xyz"}
    )
    assert r.stdout.strip() == "ABCxyz"


def test_file_names_cannot_escape(sandbox):
    with pytest.raises(ValueError, match="escapes"):
        sandbox.run("pass", files={"../evil.py": "x"})


def test_wall_timeout_kills(sandbox):
    r = sandbox.run("import time\ntime.sleep(60)", limits=Limits(wall_s=1, cpu_s=5))
    assert r.stopped == "timeout" and r.duration_s < 5


def test_cpu_limit(sandbox):
    r = sandbox.run("while True:\n    pass", limits=Limits(cpu_s=1, wall_s=10))
    assert r.stopped == "cpu_limit" and r.duration_s < 5


def test_memory_limit(sandbox):
    r = sandbox.run("x = bytearray(2 * 1024 ** 3)", limits=Limits(memory_mb=256))
    assert r.stopped == "memory_limit" and r.exit_code != 0


def test_output_is_capped_while_reading(sandbox):
    start = time.monotonic()
    r = sandbox.run("while True:\n    print('x' * 10000)", limits=Limits(output_bytes=100_000, wall_s=20))
    assert r.stopped == "output_limit"
    assert len(r.stdout) <= 100_000
    assert time.monotonic() - start < 10


def test_straggler_grandchild_does_not_hang_the_harness(sandbox):
    code = "import os, time\nif os.fork() == 0:\n    time.sleep(60)\nprint('parent done')"
    start = time.monotonic()
    r = sandbox.run(code, limits=Limits(wall_s=30))
    assert r.stdout.strip() == "parent done"
    assert r.stopped is None and time.monotonic() - start < 5


def test_host_environment_does_not_reach_the_code(sandbox, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    r = sandbox.run("import os\nprint(sorted(os.environ))\nprint(os.environ.get('OPENAI_API_KEY'))")
    assert "sk-secret" not in r.stdout and "OPENAI_API_KEY" not in r.stdout


def test_file_size_limit(sandbox):
    r = sandbox.run("open('big', 'wb').write(b'x' * (4 << 20))", limits=Limits(file_bytes=1 << 20))
    assert r.exit_code != 0
