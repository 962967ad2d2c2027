"""The seccomp filter of the local sandbox, compiled to a BPF program with `pyseccomp` (over the system libseccomp).

The harness compiles it once and each worker installs it on itself after its own set-up, so the workers
need neither pyseccomp nor libseccomp and every run inherits the filter. Denied with EPERM: making sockets (no
network, no local services), and what could leave the sandbox or reach other processes: namespaces (a user
namespace is how an unprivileged process gains capabilities), ptrace, mounts, keyrings, BPF, kernel modules.
(The worker's scratch tmpfs is resized by a helper it started before installing the filter.)
"""

from __future__ import annotations

import errno
import os

DENIED = (
    "socket socketpair ptrace process_vm_readv process_vm_writev mount umount2 pivot_root chroot unshare setns "
    "keyctl add_key request_key bpf perf_event_open userfaultfd kexec_load kexec_file_load init_module "
    "finit_module delete_module reboot swapon swapoff acct quotactl name_to_handle_at open_by_handle_at "
    "syslog settimeofday clock_settime sethostname setdomainname iopl ioperm io_uring_setup io_uring_enter "
    "io_uring_register open_tree move_mount fsopen fsconfig fsmount fspick mount_setattr personality"
).split()
# clone() flags that make new namespaces (NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWTIME).
CLONE_NS_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x00000080)


def compile_filter() -> tuple[bytes | None, str]:
    """The BPF program as bytes, or None and the reason it could not be built."""
    try:
        import pyseccomp as seccomp
    except ImportError:
        return None, "pyseccomp is not installed"
    try:
        flt = seccomp.SyscallFilter(seccomp.ALLOW)
        for name in DENIED:
            try:
                flt.add_rule(seccomp.ERRNO(errno.EPERM), name)
            except (RuntimeError, ValueError, OSError):  # a syscall this architecture does not have
                pass
        for flag in CLONE_NS_FLAGS:
            flt.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
        # clone3 passes its flags in memory, which a filter cannot read: ENOSYS makes libc fall back to clone.
        flt.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
        memfd = os.memfd_create("seccomp-bpf")
        with os.fdopen(memfd, "w+b") as f:
            flt.export_bpf(f)
            f.seek(0)
            return f.read(), ""
    except Exception as e:  # libseccomp missing or too old
        return None, f"the seccomp filter could not be built ({type(e).__name__}: {e})"
