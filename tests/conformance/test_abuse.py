"""The abuse suite: hostile programs, for every backend. Each case must be contained (the harness survives and
the next run is clean) and none may forge a passing verdict. Each test names the protection it relies on
(`relies_on`), and skips with the reason where the runs here lack it."""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest
from conftest import run_processes

from autodidact.sandbox import Limits
from autodidact.tools.verify import verify_function

from .conftest import relies_on

QUICK = Limits(cpu_s=3, wall_s=8, memory_mb=256, processes=32)


def still_works(sandbox) -> None:
    r = sandbox.run("print(6 * 7)")
    assert (r.stdout, r.exit_code, r.stopped) == ("42\n", 0, None), r


def test_fork_bomb(sandbox, isolation):
    relies_on(isolation, "uid", "pids")  # RLIMIT_NPROC holds only for a non-root uid; Docker: the pids cgroup
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    start = time.monotonic()
    # The parent forks for as long as it may: the wall limit ends it, so it is short here.
    r = sandbox.run(code, limits=dataclasses.replace(QUICK, wall_s=3))
    assert r.stopped in ("timeout", "cpu_limit", "killed") or r.exit_code != 0
    assert time.monotonic() - start < 30
    time.sleep(0.2)
    assert not run_processes(), "the fork bomb outlived its run"
    still_works(sandbox)


def test_memory_balloon(sandbox):
    code = "x = []\nwhile True:\n    x.append(bytearray(16 << 20))\n"
    r = sandbox.run(code, limits=QUICK)
    assert r.stopped in ("memory_limit", "killed") and r.exit_code != 0
    still_works(sandbox)


def test_infinite_loop(sandbox):
    r = sandbox.run("while True:\n    pass\n", limits=Limits(cpu_s=1, wall_s=3))
    assert r.stopped in ("cpu_limit", "timeout")
    still_works(sandbox)


def test_one_huge_file(sandbox):
    code = "with open('huge', 'wb') as f:\n    for _ in range(1024):\n        f.write(b'x' * (1 << 20))\n"
    r = sandbox.run(code, limits=Limits(file_bytes=8 << 20))
    assert r.exit_code != 0
    still_works(sandbox)


def test_many_medium_files(sandbox, isolation):
    relies_on(isolation, "scratch")  # the file-size limit does not cap the total; a size-limited tmpfs does
    code = (
        "import sys\n"
        "for i in range(64):\n"
        "    try:\n"
        "        open(f'f{i}', 'wb').write(b'x' * (1 << 20))\n"
        "    except OSError as e:\n"
        "        print('full after', i, e.errno)\n"
        "        sys.exit(0)\n"
        "print('wrote all')\n"
    )
    r = sandbox.run(code, limits=Limits(file_bytes=2 << 20, scratch_bytes=8 << 20))
    assert r.stdout.startswith("full after"), r
    still_works(sandbox)


def test_stdout_flood(sandbox):
    code = "import os\nwhile True:\n    os.write(1, b'y' * 65536)\n"
    r = sandbox.run(code, limits=Limits(output_bytes=1 << 16, wall_s=10))
    assert r.stopped == "output_limit" and len(r.stdout) <= 1 << 16
    still_works(sandbox)


def test_socket_to_loopback(sandbox, isolation):
    relies_on(isolation, "seccomp", "netns", "no_network")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(5)
    port = server.getsockname()[1]
    got: list[socket.socket] = []

    def accept() -> None:
        try:
            got.append(server.accept()[0])
        except OSError:
            pass

    thread = threading.Thread(target=accept)
    thread.start()
    code = (
        "import socket\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'escaped')\n"
        "    print('connected')\n"
        "except OSError as e:\n"
        "    print('blocked', type(e).__name__)\n"
    )
    r = sandbox.run(code, limits=QUICK)
    server.close()
    thread.join()
    assert "blocked" in r.stdout and not got, r


def test_socket_to_another_address(sandbox, isolation):
    """A UDP `connect` only picks a route, so this probe sends no packet even where it succeeds."""
    relies_on(isolation, "seccomp", "netns", "no_network")
    code = (
        "import socket\n"
        "try:\n"
        "    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "    s.connect(('192.0.2.1', 9))\n"
        "    print('routable')\n"
        "except OSError as e:\n"
        "    print('blocked', type(e).__name__)\n"
    )
    r = sandbox.run(code, limits=QUICK)
    assert "blocked" in r.stdout, r


def test_kill_the_parent(sandbox):
    code = (
        "import os, signal\n"
        "for target in (os.getppid(), 1, -1):\n"
        "    try:\n"
        "        os.kill(target, signal.SIGKILL)\n"
        "    except OSError:\n"
        "        pass\n"
    )
    sandbox.run(code, limits=QUICK)
    still_works(sandbox)


def test_setsid_straggler_dies_with_the_run(sandbox):
    """The straggler would write into the next run's work dir; it must be dead before then."""
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    for _ in range(40):\n"
        "        time.sleep(0.1)\n"
        "        open('intruder.txt', 'w').write('still here')\n"
        "print('parent done')\n"
    )
    start = time.monotonic()
    r = sandbox.run(code, limits=Limits(wall_s=20))
    assert r.stdout.strip() == "parent done" and r.stopped is None
    assert time.monotonic() - start < 10
    later = sandbox.run("import os, time\ntime.sleep(1)\nprint(os.path.exists('intruder.txt'))")
    assert later.stdout.strip() == "False"


def test_no_process_of_a_run_outlives_it(sandbox, isolation):
    relies_on(isolation, "uid")  # local backend: runs have uids of their own, so /proc shows any survivor
    sandbox.run("import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(30)\n")
    time.sleep(0.2)
    assert not run_processes()


def test_cannot_read_the_harness_environment(sandbox, isolation, monkeypatch):
    relies_on(isolation, "uid", "container", "microvm")  # as the harness's own uid, /proc/*/environ is readable
    secret = "sk-conformance-" + os.urandom(8).hex()
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    code = (
        "import os\n"
        "print(dict(os.environ))\n"
        "for pid in os.listdir('/proc'):\n"
        "    if pid.isdigit():\n"
        "        try:\n"
        "            print(open(f'/proc/{pid}/environ', 'rb').read())\n"
        "        except OSError:\n"
        "            pass\n"
    )
    r = sandbox.run(code, limits=QUICK)
    assert secret not in r.stdout and "OPENAI_API_KEY" not in r.stdout


@pytest.fixture
def victim():
    """A world-writable directory and file on the host, outside any temp dir: only the sandbox protects them."""
    base = Path(tempfile.mkdtemp(prefix=".victim-", dir=Path(__file__).parent))
    base.chmod(0o777)
    target = base / "victim.txt"
    target.write_text("original")
    target.chmod(0o666)
    yield target
    shutil.rmtree(base)


def test_cannot_write_or_delete_host_files(sandbox, isolation, victim):
    relies_on(isolation, "readonly_host", "container", "microvm")
    code = (
        "import os\n"
        f"victim = {str(victim)!r}\n"
        "for action in (lambda: open(victim, 'a').write('pwned'), lambda: os.remove(victim),\n"
        "               lambda: open(os.path.join(os.path.dirname(victim), 'new.txt'), 'w').write('x')):\n"
        "    try:\n"
        "        action()\n"
        "        print('did it')\n"
        "    except OSError as e:\n"
        "        print('refused', e.errno)\n"
    )
    r = sandbox.run(code, limits=QUICK)
    assert "did it" not in r.stdout, r
    assert victim.read_text() == "original" and sorted(p.name for p in victim.parent.iterdir()) == ["victim.txt"]


def test_cannot_gain_namespaces_or_mounts(sandbox, isolation):
    relies_on(isolation, "seccomp", "no_capabilities")  # seccomp denies user namespaces; the uid has no capability
    code = (
        "import ctypes\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "print('newuser', libc.unshare(0x10000000))\n"
        "print('newpid', libc.unshare(0x20000000))\n"
        "print('newns', libc.unshare(0x00020000))\n"
        "print('mount', libc.mount(b'none', b'/tmp', b'tmpfs', 0, None))\n"
    )
    r = sandbox.run(code, limits=QUICK)
    assert r.stdout.split() == ["newuser", "-1", "newpid", "-1", "newns", "-1", "mount", "-1"], r


# ----- forging a verdict: the expected outputs never enter the sandbox, so only right answers pass -----
# (An attempt can always make the driver report any values it likes; to pass it would have to report the
# expected ones, which it can only know by computing them: that is solving the case, not forging it.)

ADD_INPUTS = [[1, 2], [10, -3], [0, 0]]
ADD_EXPECTED = [3, 7, 0]

FORGERIES = {
    "print a success marker it stole from the driver": (
        "import sys, json\n"
        "frame = sys._getframe(1)\n"
        "marker = frame.f_locals.get('marker', '')\n"
        "sys.stdout.write('\\n' + marker + json.dumps([{'ok': 0}] * 3) + '\\n')\n"
        "sys.stdout.flush()\n"
        "import os\n"
        "os._exit(0)\n"
    ),
    "exit 0 before the tests run": "import sys\nsys.exit(0)\n",
    "return an object equal to everything": (
        "class Any:\n    def __eq__(self, other):\n        return True\n\ndef add(a, b):\n    return Any()\n"
    ),
    "monkeypatch assert machinery": (
        "import builtins\nbuiltins.AssertionError = type('Nope', (Exception,), {})\ndef add(a, b):\n    return None\n"
    ),
    "rewrite the test inputs": (
        "import json\n"
        "json.dump({'entry_point': 'add', 'cases': []}, open('inputs.json', 'w'))\n"
        "def add(a, b):\n    return 0\n"
    ),
    "patch json so every result reads as a pass": (
        "import json\n"
        "real = json.dumps\n"
        "json.dumps = lambda obj, **kw: real([{'ok': True, 'passed': True}] * 3)\n"
        "def add(a, b):\n    return -1\n"
    ),
}


@pytest.mark.parametrize("how", list(FORGERIES))
def test_forged_verdicts_are_refused(sandbox, how):
    verdict = verify_function(code=FORGERIES[how], entry_point="add", inputs=ADD_INPUTS, expected=ADD_EXPECTED,
                              sandbox=sandbox)  # fmt: skip
    assert not verdict.passed, (how, verdict.feedback)


def test_a_right_answer_still_passes(sandbox):
    verdict = verify_function(code="def add(a, b):\n    return a + b\n", entry_point="add", inputs=ADD_INPUTS,
                              expected=ADD_EXPECTED, sandbox=sandbox)  # fmt: skip
    assert verdict.passed, verdict.feedback


def test_a_locked_tree_left_behind_does_not_reach_the_next_run(sandbox):
    code = (
        "import os\n"
        "os.makedirs('a/b/c')\n"
        "open('a/b/c/f', 'w').write('x')\n"
        "os.symlink('/etc/passwd', 'a/link')\n"
        "for d in ('a/b/c', 'a/b', 'a'):\n"
        "    os.chmod(d, 0)\n"
    )
    sandbox.run(code, limits=QUICK)
    r = sandbox.run("import os\nprint(os.listdir('.'))", limits=QUICK)
    assert "'a'" not in r.stdout and r.exit_code == 0, r
    assert os.path.exists("/etc/passwd")
