"""The confinement a local-sandbox worker sets up once, at start: a non-root uid per slot, an empty network
namespace, a private mount namespace with a read-only host, the libraries readable by the run's uid and private
homes hidden, a size-limited scratch tmpfs with a root helper that alone may resize it, a PID namespace whose init
kills what a run leaves behind, and the seccomp filter. Each step records what it achieved (`got`) or why it
could not (`missing`), and the harness reports both. Stdlib only: `worker.py` loads this file beside it.
"""

import ctypes
import errno
import os
import shutil
import signal
import struct

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


class Confinement:
    """The one-time set-up of a worker (`Worker` subclasses it): what every run of the slot shares."""

    uid: int
    off: tuple[str, ...]
    got: dict[str, str]
    missing: dict[str, str]
    stdlib: list[str]
    packages: dict[str, str]
    init_pid: int
    init_cmd: int
    init_ack: int
    init_children: str
    host_scratch: str
    scratch_size: int
    mounter_cmd: int
    mounter_ack: int
    mounter_pid: int

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
