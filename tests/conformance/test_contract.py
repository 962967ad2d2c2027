"""The sandbox contract, for every backend: results, stdin and files in and out, limits, timeouts, output caps,
and concurrent runs that do not see each other."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from autodidact.sandbox import Limits


def test_reports_output_and_exit_status(sandbox):
    r = sandbox.run("import sys\nprint('out')\nprint('err', file=sys.stderr)\nsys.exit(3)")
    assert (r.stdout, r.stderr, r.exit_code, r.stopped) == ("out\n", "err\n", 3, None)
    assert r.duration_s > 0 and r.isolation


def test_uncaught_exception_is_a_failure_with_its_traceback(sandbox):
    r = sandbox.run("def f():\n    raise KeyError('k')\nf()")
    assert r.exit_code == 1 and r.stopped is None
    assert "KeyError: 'k'" in r.stderr and "Traceback" in r.stderr


def test_the_standard_library_imports(sandbox):
    code = "import math, fractions, heapq, bisect, re, datetime, decimal, statistics, json, collections\nprint('ok')"
    r = sandbox.run(code)
    assert r.stdout == "ok\n", r.stderr


def test_stdin_and_files_in_and_out(sandbox):
    code = (
        "import sys, os\n"
        "data = sys.stdin.read()\n"
        "print(data.upper() + open('data.txt').read() + open('sub/more.txt').read())\n"
        "open('result.txt', 'w').write(data[::-1])\n"
    )
    r = sandbox.run(code, stdin="abc", files={"data.txt": "xyz", "sub/more.txt": "!"}, collect=["result.txt", "nope"])
    assert r.stdout.strip() == "ABCxyz!"
    assert r.files == {"result.txt": "cba"}


def test_each_run_starts_in_an_empty_work_dir(sandbox):
    sandbox.run("open('left.txt', 'w').write('x')")
    r = sandbox.run("import os\nprint(sorted(os.listdir('.')))")
    assert "left.txt" not in r.stdout


@pytest.mark.parametrize("name", ["../evil.py", "/etc/evil.py", "a/../../evil.py"])
def test_file_names_cannot_escape(sandbox, name):
    with pytest.raises(ValueError, match="escapes"):
        sandbox.run("pass", files={name: "x"})


def test_wall_timeout(sandbox):
    r = sandbox.run("import time\ntime.sleep(60)", limits=Limits(wall_s=1, cpu_s=5))
    assert r.stopped == "timeout" and r.duration_s < 15


def test_cpu_limit(sandbox):
    r = sandbox.run("while True:\n    pass", limits=Limits(cpu_s=1, wall_s=20))
    assert r.stopped == "cpu_limit" and r.duration_s < 15


def test_memory_limit(sandbox):
    r = sandbox.run("x = bytearray(2 * 1024 ** 3)", limits=Limits(memory_mb=256))
    assert r.stopped == "memory_limit" and r.exit_code != 0


def test_output_cap_is_enforced_while_reading(sandbox):
    start = time.monotonic()
    r = sandbox.run("while True:\n    print('x' * 10000)", limits=Limits(output_bytes=100_000, wall_s=20))
    assert r.stopped == "output_limit"
    assert len(r.stdout) + len(r.stderr) <= 100_000
    assert time.monotonic() - start < 15


def test_file_size_limit(sandbox):
    r = sandbox.run("open('big', 'wb').write(b'x' * (4 << 20))", limits=Limits(file_bytes=1 << 20))
    assert r.exit_code != 0


def test_killed_by_a_signal(sandbox):
    r = sandbox.run("import os, signal\nos.kill(os.getpid(), signal.SIGTERM)")
    assert r.exit_code == -15


def test_concurrent_runs_are_separate(sandbox):
    code = (
        "import os, sys, time\n"
        "me = sys.stdin.read()\n"
        "open('mine.txt', 'w').write(me)\n"
        "time.sleep(0.3)\n"
        "print(me, open('mine.txt').read(), sorted(os.listdir('.')))\n"
    )
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda i: sandbox.run(code, stdin=f"run{i}", files={f"only{i}.txt": ""}), range(12)))
    for i, r in enumerate(results):
        assert r.exit_code == 0, r.stderr
        me, mine, listing = r.stdout.split(" ", 2)
        assert me == mine == f"run{i}"
        assert f"only{i}.txt" in listing and not any(f"only{j}.txt" in listing for j in range(12) if j != i)
