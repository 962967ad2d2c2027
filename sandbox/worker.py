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

import ctypes
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

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
CLONE_NEWPID = 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 0x4000, 0x40000
MNT_DETACH = 2
SYS_MOUNT_SETATTR = 442  # the same number on every architecture (new-style syscall table)
AT_FDCWD, AT_RECURSIVE, MOUNT_ATTR_RDONLY = -100, 0x8000, 1
PR_SET_NO_NEW_PRIVS, PR_SET_CHILD_SUBREAPER = 38, 36
SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_SPEC_ALLOW = 1, 4
SYS_SECCOMP = {"x86_64": 317, "aarch64": 277}.get(os.uname().machine, -1)
SCRATCH = "/tmp"
DEFAULT_SCRATCH = 32 << 20
HEADER = struct.Struct("!I")

libc = ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = [None if v is None else v.encode() for v in (source, target, fstype, data)]
    _check(libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3]), f"mount {target}")


def umount(target: str) -> None:
    _check(libc.umount2(target.encode(), MNT_DETACH), f"umount {target}")


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


class Worker:
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

    # ----- one-time set-up, each step recording what it achieved -----

    def _setup_uid(self) -> None:
        if os.geteuid() == 0:
            self.got["uid"] = f"each run as uid {self.uid}, not root"
        else:
            self.missing["uid"] = "the harness is not root, so runs share its uid and RLIMIT_NPROC counts its processes"

    def _check_wanted(self, protection: str) -> None:
        if protection in self.off:
            raise OSError(0, "turned off by the harness")

    def _setup_seccomp(self, program_hex: str) -> None:
        if "seccomp" in self.off:
            program_hex = "-turned off by the harness"
        if program_hex.startswith("-"):
            self.missing["seccomp"] = program_hex[1:]
            return
        try:
            install_filter(bytes.fromhex(program_hex))
            self.got["seccomp"] = "no sockets, namespaces, ptrace, mounts or kernel keyrings"
        except OSError as e:
            self.missing["seccomp"] = f"the kernel refused the seccomp filter ({e})"

    def _setup_namespaces(self) -> None:
        try:
            self._check_wanted("netns")
            _check(libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
            self.got["netns"] = "an empty network namespace: no interface is up"
        except OSError as e:
            self.missing["netns"] = f"no network namespace ({e})"
        try:
            _check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
            mount("none", "/", None, MS_REC | MS_PRIVATE)
            self._read_only_host()
            self._expose_libraries()
            if os.path.isdir("/dev/shm"):
                mount("tmpfs", "/dev/shm", "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=0555")
            self._start_mounter()
            self.got["scratch"] = f"a size-limited tmpfs at {SCRATCH}, emptied for each run"
        except OSError as e:
            self.missing["scratch"] = f"no mount namespace, so the scratch area is a plain directory ({e})"
            import tempfile  # noqa: PLC0415

            self.host_scratch = tempfile.mkdtemp(prefix="autodidact-slot-")
            os.chown(self.host_scratch, self.uid, self.uid)
        try:
            self._check_wanted("pidns")
            self._start_init()
            self.got["pidns"] = "runs live in a PID namespace whose init kills any process a run leaves behind"
        except OSError as e:
            self.missing["pidns"] = f"no PID namespace, stragglers are killed by session and uid instead ({e})"
            _check(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "prctl(PR_SET_CHILD_SUBREAPER)")

    def _start_mounter(self) -> None:
        """Mount the slot's scratch tmpfs, and keep a root helper that alone may resize or replace it.

        So the worker's seccomp filter can deny the whole mount family, the worker included.
        """
        mount("tmpfs", SCRATCH, "tmpfs", MS_NOSUID | MS_NODEV, scratch_options(DEFAULT_SCRATCH, self.uid))
        self.scratch_size = DEFAULT_SCRATCH
        cmd_r, cmd_w = os.pipe()
        ack_r, ack_w = os.pipe()
        self.mounter_pid = os.fork()
        if self.mounter_pid == 0:
            mounter(cmd_r, ack_w, self.uid)
        os.close(cmd_r)
        os.close(ack_w)
        self.mounter_cmd, self.mounter_ack = cmd_w, ack_r

    def remount(self, how: str, size: int) -> None:
        os.write(self.mounter_cmd, f"{how} {size}\n".encode())
        answer = os.read(self.mounter_ack, 200).decode()
        if answer != "ok":
            raise OSError(errno.EIO, f"the scratch tmpfs could not be {how}ed: {answer}")

    def _start_init(self) -> None:
        """A PID namespace for this worker's runs, with a root init (PID 1) that sweeps it on request.

        Every later fork of the worker lands in the namespace; a run is an ordinary process there (not PID 1,
        which the kernel shields from signals, so a program dies of its own SIGTERM as anywhere else).
        """
        _check(libc.unshare(CLONE_NEWPID), "unshare(CLONE_NEWPID)")
        cmd_r, cmd_w = os.pipe()
        ack_r, ack_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            init(cmd_r, ack_w)
        os.close(cmd_r)
        os.close(ack_w)
        self.init_pid, self.init_cmd, self.init_ack = pid, cmd_w, ack_r
        self.init_children = f"/proc/{pid}/task/{pid}/children"
        if not os.path.exists(self.init_children):
            raise OSError(errno.ENOENT, f"{self.init_children} is missing, so stragglers cannot be found")

    def _expose_libraries(self) -> None:
        """Make the stdlib and the allowed packages readable by the run's uid; hide the host's temp dirs.

        An interpreter under a private home (pyenv in /root, say) is unreadable to other uids, so the run could
        not import what the worker had not imported already: the closed directory above it is covered with an
        empty tmpfs (hiding the rest of that home too) and the library directories are bound back at their own
        paths. Allowed packages that live under a temp dir the sandbox covers (a virtualenv in /tmp, say) are
        bound under /var/tmp instead, where the run's finder looks for them.
        """
        covered = ("/tmp", "/var/tmp", "/dev/shm")
        libs = [p for p in dict.fromkeys((*self.stdlib, *self.packages.values())) if os.path.isdir(p)]
        closed = [p for p in libs if not world_readable(p)]
        moved = [p for p in self.packages.values() if os.path.isdir(p) and under(p, covered)]
        handles = {p: os.open(p, os.O_PATH | os.O_DIRECTORY) for p in dict.fromkeys(closed + moved)}
        if os.path.isdir("/var/tmp"):
            mount("tmpfs", "/var/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755")
        staged = {}
        for i, (path, fd) in enumerate(handles.items()):  # through the handles: their parents may be covered now
            staged[path] = f"/var/tmp/lib{i}"
            os.mkdir(staged[path], 0o755)
            mount(f"/proc/self/fd/{fd}", staged[path], None, MS_BIND | MS_REC)
            os.close(fd)
        for cover in sorted({closed_ancestor(p) for p in closed if not under(p, covered)}, key=len):
            mount("tmpfs", cover, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755")
        for path in closed:
            if not under(path, covered):
                os.makedirs(path, 0o755, exist_ok=True)
                mount(staged[path], path, None, MS_BIND | MS_REC)
        self.packages = {name: staged.get(p, p) if p in moved else p for name, p in self.packages.items()}
        if closed:
            self.got["private_homes"] = "closed directories above the libraries are empty to the run"

    def _read_only_host(self) -> None:
        attr = struct.pack("QQQQ", MOUNT_ATTR_RDONLY, 0, 0, 0)
        buf = ctypes.create_string_buffer(attr, len(attr))
        ret = libc.syscall(SYS_MOUNT_SETATTR, AT_FDCWD, b"/", AT_RECURSIVE, buf, len(attr))
        if ret != 0:
            self.missing["readonly_host"] = f"mount_setattr failed ({os.strerror(ctypes.get_errno())})"
        else:
            self.got["readonly_host"] = "the host's files are read-only to the run"

    # ----- per run -----

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


def scratch_options(size: int, uid: int) -> str:
    return f"size={size},mode=0700,uid={uid},gid={uid}"


def keep_only(*fds: int) -> None:
    """Close every descriptor from 3 up but `fds` (a helper keeps nothing of the worker's, its socket least)."""
    start = 3
    for fd in sorted(fds):
        os.closerange(start, fd)
        start = fd + 1
    os.closerange(start, 65536)


def mounter(cmd: int, ack: int, uid: int) -> None:
    """The worker's mount helper (root, before the filter): resizes or replaces the scratch tmpfs on request."""
    keep_only(cmd, ack)
    with os.fdopen(cmd, "rb") as requests:
        for line in requests:
            how, size = line.decode().split()
            try:
                if how == "replace":
                    try:
                        umount(SCRATCH)
                    except OSError:
                        pass
                    mount("tmpfs", SCRATCH, "tmpfs", MS_NOSUID | MS_NODEV, scratch_options(int(size), uid))
                else:
                    flags = MS_REMOUNT | MS_NOSUID | MS_NODEV
                    mount("tmpfs", SCRATCH, "tmpfs", flags, scratch_options(int(size), uid))
                os.write(ack, b"ok")
            except OSError as e:
                os.write(ack, str(e).encode()[:200] or b"error")
    os._exit(0)


def init(cmd: int, ack: int) -> None:
    """PID 1 of a worker's namespace (root): on each request kill every other process in it, reap them all,
    and answer. When the worker goes away it exits, and the kernel kills whatever is left in the namespace."""
    os.setsid()
    keep_only(cmd, ack)
    while os.read(cmd, 1):
        while True:
            try:
                os.kill(-1, signal.SIGKILL)  # everything in the namespace but ourselves
            except OSError:
                pass
            try:
                os.wait()
            except ChildProcessError:
                break
        os.write(ack, b"k")
    os._exit(0)


def empty(path: str) -> None:
    """Remove everything inside `path` (the run could have made anything there, but no mounts)."""
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)


def under(path: str, roots: tuple[str, ...]) -> bool:
    path = os.path.abspath(path)
    return any(path == root or path.startswith(root + os.sep) for root in roots)


def world_readable(path: str) -> bool:
    """Whether any uid can list `path` (it and every directory above it open to others)."""
    return closed_ancestor(path) == ""


def closed_ancestor(path: str) -> str:
    """The first directory on the way to `path` that other uids cannot enter (or list, for `path` itself)."""
    parts = os.path.abspath(path).split(os.sep)
    for i in range(2, len(parts) + 1):
        here = os.sep.join(parts[:i])
        mode = os.stat(here).st_mode
        if not mode & 0o001 or (i == len(parts) and not mode & 0o004):
            return here
    return ""


def warm_up() -> None:
    """Import in the worker what a failing run would import for its traceback, so each run does not."""
    try:
        exec(compile("def f(x):\n    assert x == 1, 'x'\nf(2)\n", "warm_up.py", "exec"), {})
    except AssertionError:
        traceback.format_exc()


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_filter(program: bytes) -> None:
    """Load a compiled seccomp BPF program into this process (no_new_privs first, as the kernel requires).

    The filter is inherited by every child, so it is loaded once per worker. The speculative-store-bypass
    mitigation that seccomp would otherwise switch on is left to the system's setting (it costs a VM exit on
    every context switch on some hypervisors and protects against a side channel, not an escape).
    """
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
    buf = ctypes.create_string_buffer(program, len(program))
    prog = SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
    ret = libc.syscall(SYS_SECCOMP, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_SPEC_ALLOW, ctypes.byref(prog))
    _check(ret, "seccomp(SECCOMP_SET_MODE_FILTER)")


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
