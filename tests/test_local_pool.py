"""The local backend's pool: workers that die are replaced, missing protections are said once and recorded."""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from autodidact.sandbox import Limits, LocalSandbox
from autodidact.sandbox import local as local_module


def test_every_result_records_the_isolation_it_had():
    with LocalSandbox(workers=1) as sb:
        r = sb.run("pass")
    assert {"session", "rlimits", "clean_env"} <= set(r.isolation)


def test_a_worker_killed_mid_run_is_replaced():
    with LocalSandbox(workers=1) as sb:
        sb.run("pass")
        (worker,) = sb.workers()
        killer = threading.Timer(0.5, lambda: os.kill(worker.proc.pid, signal.SIGKILL))
        killer.start()
        start = time.monotonic()
        r = sb.run("import time\ntime.sleep(2)\nprint('done')", limits=Limits(wall_s=60))
        killer.join()
        assert r.stdout == "done\n" and r.stopped is None  # run again on a fresh worker
        assert time.monotonic() - start < 30, "the harness waited for the deadline instead of seeing the death"
        (fresh,) = sb.workers()
        assert fresh.proc.pid != worker.proc.pid
        assert sb.run("print(1)").stdout == "1\n"


def test_a_missing_protection_is_said_once_and_left_out_of_isolation(monkeypatch, capsys):
    monkeypatch.setattr(local_module, "compile_filter", lambda: (None, "pyseccomp is not installed"))
    monkeypatch.setattr(local_module, "_said", set())
    local_module._seccomp_arg.cache_clear()
    try:
        with LocalSandbox(workers=2) as sb:
            results = [sb.run("import time\ntime.sleep(0.2)") for _ in range(2)]
            threads = [threading.Thread(target=sb.run, args=("pass",)) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    finally:
        local_module._seccomp_arg.cache_clear()
    said = capsys.readouterr().err
    assert said.count("running without seccomp: pyseccomp is not installed") == 1
    assert all("seccomp" not in r.isolation for r in results)


def test_concurrent_load_never_starts_more_workers_than_the_pool_holds():
    with LocalSandbox(workers=2) as sb, ThreadPoolExecutor(8) as pool:
        outs = list(pool.map(lambda i: sb.run(f"print({i})").stdout, range(40)))
        assert outs == [f"{i}\n" for i in range(40)]
        assert len(sb.workers()) == 2


def test_only_the_allowed_packages_are_importable():
    code = "import importlib\nfor name in ('numpy', 'torch', 'autodidact'):\n    try:\n        importlib.import_module(name)\n        print(name, 'yes')\n    except ImportError:\n        print(name, 'no')\n"
    with LocalSandbox(workers=1) as plain, LocalSandbox(workers=1, packages=["numpy"]) as with_numpy:
        assert plain.run(code).stdout.split() == ["numpy", "no", "torch", "no", "autodidact", "no"]
        assert with_numpy.run(code).stdout.split() == ["numpy", "yes", "torch", "no", "autodidact", "no"]


def test_a_worker_that_cannot_start_is_an_error_not_a_hang(tmp_path, monkeypatch):
    broken = tmp_path / "worker.py"
    broken.write_text("import sys\nsys.exit('worker broken on purpose')\n")
    monkeypatch.setattr(local_module, "WORKER", str(broken))
    with LocalSandbox(workers=1) as sb:
        for _ in range(2):  # the slot is given back each time: the second call fails the same way, it does not wait
            with pytest.raises(RuntimeError, match="worker broken on purpose"):
                sb.run("pass")


def test_turning_protections_off_is_recorded():
    with LocalSandbox(workers=1, off=("seccomp", "pidns")) as sb:
        isolation = sb.run("pass").isolation
    assert "seccomp" not in isolation and "pidns" not in isolation and "session" in isolation
    with pytest.raises(ValueError, match="cannot turn off uid"):
        LocalSandbox(off=("uid",))
