"""The fork server of the local sandbox. It runs as `python -I -S worker.py FD UID SECCOMP PACKAGES OFF` (stdlib only).

One worker serves one slot of the pool. At start it sets up what every run shares: a private mount namespace
with a read-only view of the host and empty private temp dirs, an empty network namespace, and the seccomp
filter the harness compiled (SECCOMP is its BPF program in hex, or '-' and why there is none), installed on
the worker itself so that every run inherits it at no cost. It tells the harness which protections it got.
Then, for each request, it empties the slot's size-limited tmpfs (the run's scratch area), writes the files
there, and forks a child that takes its own session, rlimits and the slot's non-root uid and runs the program
in the already-warm interpreter. The child lives in the worker's PID namespace, whose init kills whatever a
run leaves behind.

Messages to and from the harness are length-prefixed JSON on the inherited Unix socket; the run's stdout and
stderr pipes arrive with the request as file descriptors, so the harness reads the output itself.
"""

import errno
import gc
import importlib.abc
import importlib.machinery
import json
import os
import resource
import selectors
import shutil
import signal
import socket
import struct
import sys
import time
import traceback
import types

if __package__:  # imported as part of autodidact.sandbox (tests, type checks)
    from .confine import SCRATCH, Confinement, empty
else:  # run by the harness as `python -I -S worker.py`: no package and no script directory on sys.path

    def _beside(name: str) -> types.ModuleType:
        import importlib.util

        spec = importlib.util.spec_from_file_location(name, os.path.join(os.path.dirname(__file__), f"{name}.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    _confine = _beside("confine")
    SCRATCH, Confinement, empty = _confine.SCRATCH, _confine.Confinement, _confine.empty  # type: ignore[misc]

HEADER = struct.Struct("!I")


def send(sock: socket.socket, msg: dict) -> None:
    data = json.dumps(msg).encode()
    sock.sendall(HEADER.pack(len(data)) + data)


def recv(sock: socket.socket, fds: list) -> dict | None:
    head, got, _, _ = socket.recv_fds(sock, HEADER.size, 4)
    if not head:
        return None
    fds.extend(got)
    while len(head) < HEADER.size:
        more = sock.recv(HEADER.size - len(head))
        if not more:
            return None
        head += more
    (size,) = HEADER.unpack(head)
    body = b""
    while len(body) < size:
        more = sock.recv(size - len(body))
        if not more:
            return None
        body += more
    return json.loads(body)


class Worker(Confinement):
    def __init__(
        self, sock: socket.socket, uid: int, seccomp: str, packages: dict[str, str], off: tuple[str, ...] = ()
    ) -> None:
        self.sock = sock
        self.uid = uid if os.geteuid() == 0 else os.geteuid()
        self.got: dict[str, str] = {}
        self.missing: dict[str, str] = {}
        self.init_pid = 0
        self.init_cmd = self.init_ack = -1
        self.init_children = ""
        self.host_scratch = ""
        self.scratch_size = 0
        self.mounter_cmd = self.mounter_ack = -1
        self.mounter_pid = 0
        self.stdlib = list(sys.path)
        self.packages = packages
        self.off = off
        self._setup_uid()
        self._setup_namespaces()
        self._setup_seccomp(seccomp)  # last: the set-up above needs calls the filter denies
        warm_up()
        gc.freeze()  # forked runs then do not copy the worker's objects when the collector visits them

    # ----- per run (the one-time set-up is `confine.Confinement`'s) -----

    def scratch(self, limits: dict) -> str:
        """An empty work dir for the next run: the slot's tmpfs emptied (and resized when the limit changes),
        or without a mount namespace a plain directory made anew."""
        if self.host_scratch:
            shutil.rmtree(self.host_scratch, ignore_errors=True)
            os.mkdir(self.host_scratch, 0o700)
            os.chown(self.host_scratch, self.uid, self.uid)
            return self.host_scratch
        size = int(limits["scratch_bytes"])
        try:
            empty(SCRATCH)  # cheaper than a new mount, whose unmount waits for an RCU grace period
            os.chmod(SCRATCH, 0o700)
            if size != self.scratch_size:
                self.remount("resize", size)
        except OSError:
            self.remount("replace", size)
        self.scratch_size = size
        return SCRATCH

    def write_files(self, work: str, files: dict) -> None:
        root = os.path.realpath(work)
        for name, text in files.items():
            path = os.path.realpath(os.path.join(root, name))
            if not path.startswith(root + os.sep):
                raise ValueError(f"file name escapes the work dir: {name!r}")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                os.chown(os.path.join(dirpath, name), self.uid, self.uid)

    def collect(self, work: str, names: list, cap: int) -> dict:
        out = {}
        root = os.path.realpath(work)
        for name in names:
            path = os.path.realpath(os.path.join(root, name))
            if not path.startswith(root + os.sep) or not os.path.isfile(path):
                continue
            with open(path, "rb") as f:
                out[name] = f.read(cap).decode("utf-8", "replace")
        return out

    def child(self, req: dict, work: str, stdin_r: int, out_w: int, err_w: int) -> None:
        """Runs in the forked child: never returns."""
        try:
            os.setsid()
            os.dup2(stdin_r, 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            os.closerange(3, 65536)
            os.chdir(work)
            lim = req["limits"]
            cpu = max(1, int(lim["cpu_s"] + 0.999))
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
            resource.setrlimit(resource.RLIMIT_AS, (lim["memory_mb"] << 20, lim["memory_mb"] << 20))
            resource.setrlimit(resource.RLIMIT_FSIZE, (lim["file_bytes"], lim["file_bytes"]))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
            resource.setrlimit(resource.RLIMIT_NPROC, (lim["processes"], lim["processes"]))
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(self.uid)
                os.setuid(self.uid)
            os.environ.clear()
            os.environ.update(req["env"], HOME=work, TMPDIR=work)
            sys.argv = ["main.py"]
            sys.path[:] = self.stdlib
            if self.packages:
                sys.meta_path.insert(0, AllowedPackages(self.packages))
        except BaseException:
            os.write(2, ("sandbox set-up failed:\n" + traceback.format_exc()).encode())
            os._exit(125)
        os._exit(run_main(req["code"]))

    def run(self, req: dict, fds: list) -> None:
        out_w, err_w = fds
        try:
            work = self.scratch(req["limits"])
            self.write_files(work, {**req["files"], "main.py": req["code"]})
        except (OSError, ValueError) as e:
            os.close(out_w)
            os.close(err_w)
            send(self.sock, {"error": f"{type(e).__name__}: {e}"})
            return
        stdin_r, stdin_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(stdin_w)
            self.child(req, work, stdin_r, out_w, err_w)
        for fd in (stdin_r, out_w, err_w):
            os.close(fd)
        status, usage = self.wait(pid, stdin_w, req["stdin"].encode())
        self.sweep(pid)
        files = self.collect(work, req["collect"], req["limits"]["output_bytes"])
        code = os.waitstatus_to_exitcode(status)
        send(self.sock, {"status": code, "cpu_s": usage.ru_utime + usage.ru_stime, "files": files})

    def sweep(self, pid: int) -> None:
        """Kill whatever the run left behind. With the PID namespace, its orphans are the init's children."""
        if not self.init_pid:
            self.kill_stragglers(pid)
            return
        with open(self.init_children) as f:
            if not f.read().strip():
                return  # the usual case: nothing outlived the program
        os.write(self.init_cmd, b"k")
        if os.read(self.init_ack, 1) != b"k":
            raise OSError(errno.ESRCH, "the PID namespace's init is gone")

    def wait(self, pid: int, stdin_w: int, data: bytes) -> tuple:
        """Feed stdin and wait for the child, killing it when the harness says so; never blocks on either."""
        os.set_blocking(stdin_w, False)
        pidfd = os.pidfd_open(pid)
        sel = selectors.DefaultSelector()
        sel.register(pidfd, selectors.EVENT_READ, "exit")
        sel.register(self.sock, selectors.EVENT_READ, "harness")
        if data:
            sel.register(stdin_w, selectors.EVENT_WRITE, "stdin")
        else:
            os.close(stdin_w)
        try:
            while True:
                for key, _ in sel.select():
                    if key.data == "exit":
                        _, status, usage = os.wait4(pid, 0)
                        return status, usage
                    if key.data == "stdin":
                        try:
                            data = data[os.write(stdin_w, data[:65536]) :]
                        except OSError:  # the child closed its stdin
                            data = b""
                        if not data:
                            sel.unregister(stdin_w)
                            os.close(stdin_w)
                    elif key.data == "harness":
                        msg = recv(self.sock, [])
                        if msg is None:  # the harness is gone: end the run and ourselves
                            os.kill(pid, signal.SIGKILL)
                            os.wait4(pid, 0)
                            sys.exit(0)
                        if msg.get("kill"):
                            os.kill(pid, signal.SIGKILL)
        finally:
            sel.close()
            os.close(pidfd)
            if data:
                os.close(stdin_w)

    def kill_stragglers(self, pid: int) -> None:
        """Without a PID namespace. The worker is a child subreaper, so whatever a run leaves is reparented to it.
        Until none of those is left (its own helper aside): kill them, and as root also every process of the
        slot's uid at once, as that uid (a fork bomb outgrows one-by-one killing); reap as they die."""
        children = f"/proc/{os.getpid()}/task/{os.getpid()}/children"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # past it, a process that cannot die (stuck in the kernel) is left
            try:
                while os.waitpid(-1, os.WNOHANG)[0]:
                    pass  # reap what already died
            except ChildProcessError:
                return
            with open(children) as f:
                left = [int(child) for child in f.read().split() if int(child) != self.mounter_pid]
            if not left:
                return  # the usual case: nothing outlived the program
            for victim in left:
                try:
                    os.kill(victim, signal.SIGKILL)  # its own children become ours in turn
                except OSError:
                    pass
            if os.geteuid() == 0:
                killer = os.fork()
                if killer == 0:
                    try:
                        os.setuid(self.uid)
                        os.kill(-1, signal.SIGKILL)  # every process of the uid but ourselves
                    finally:
                        os._exit(0)
                os.waitpid(killer, 0)
            time.sleep(0.001)

    def serve(self) -> None:
        send(self.sock, {"ready": True, "got": self.got, "missing": self.missing})
        while True:
            fds: list = []
            req = recv(self.sock, fds)
            if req is None:
                return
            if req.get("kill"):  # a late kill for a run that already ended
                for fd in fds:
                    os.close(fd)
                continue
            self.run(req, fds)


class AllowedPackages(importlib.abc.MetaPathFinder):
    """Finds the top-level packages the sandbox allows, each in its own directory, and nothing else there."""

    def __init__(self, dirs: dict) -> None:
        self.dirs = dirs

    def find_spec(self, name: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        if path is None and name in self.dirs:
            return importlib.machinery.PathFinder.find_spec(name, [self.dirs[name]])
        return None


def warm_up() -> None:
    """Import in the worker what a failing run would import for its traceback, so each run does not."""
    try:
        exec(compile("def f(x):\n    assert x == 1, 'x'\nf(2)\n", "warm_up.py", "exec"), {})
    except AssertionError:
        traceback.format_exc()


def run_main(code: str) -> int:
    """Run `code` as the program's `__main__` module and return its exit status, as `python main.py` would."""
    module = types.ModuleType("__main__")
    module.__file__ = "main.py"
    module.__builtins__ = __builtins__  # type: ignore[attr-defined]
    sys.modules["__main__"] = module
    status = 0
    try:
        exec(compile(code, "main.py", "exec"), module.__dict__)
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if e.code is not None and not isinstance(e.code, int):
            print(e.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
        status = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    return status & 0xFF


def main() -> None:
    fd, uid = int(sys.argv[1]), int(sys.argv[2])
    sock = socket.socket(fileno=fd)
    Worker(sock, uid, sys.argv[3], json.loads(sys.argv[4]), tuple(json.loads(sys.argv[5]))).serve()


if __name__ == "__main__":
    main()
