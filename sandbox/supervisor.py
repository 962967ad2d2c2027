"""The in-container supervisor of the Docker backend (stdlib only; shipped as its own source).

Run as `python3 -I -S -c SOURCE CHUNK...` (the chunks are one base64 JSON request, split to fit the argument
limit) or `python3 -I -S supervisor.py @FILE`. It kills what is left of an earlier run in a reused container, empties the work dir, writes the files,
runs `main.py` with the given stdin under rlimits, reads its output with a cap and a wall deadline, and prints
one JSON line: output, exit status, why it was stopped, and the files asked for. The container (no network,
read-only root, no capabilities, non-root user, memory and process limits) is the security boundary; this
program only runs and measures.
"""

import base64
import json
import os
import resource
import selectors
import signal
import sys
import time


def kill_stragglers() -> None:
    """Kill every process of this uid but ourselves and PID 1: what a run left behind, even in another session."""
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass


def clear_work(work: str) -> None:
    kill_stragglers()
    for name in os.listdir(work):
        remove_tree(os.path.join(work, name))


def remove_tree(root: str) -> None:
    """Remove a tree the last run made, however it left the permissions (iteratively: it may be very deep)."""
    stack, dirs = [root], []
    while stack:
        path = stack.pop()
        if os.path.islink(path) or not os.path.isdir(path):
            os.unlink(path)
            continue
        os.chmod(path, 0o700)
        dirs.append(path)
        stack.extend(os.path.join(path, name) for name in os.listdir(path))
    for path in reversed(dirs):
        os.rmdir(path)


def limit(lim: dict) -> None:
    cpu = max(1, int(lim["cpu_s"] + 0.999))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (lim["memory_mb"] << 20, lim["memory_mb"] << 20))
    resource.setrlimit(resource.RLIMIT_FSIZE, (lim["file_bytes"], lim["file_bytes"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))


def main() -> None:
    args = sys.argv[1:]
    if args[0].startswith("@"):  # the request is in a file (removed once read)
        with open(args[0][1:]) as request_file:
            args = [request_file.read()]
        os.unlink(request_file.name)
    req = json.loads(base64.b64decode("".join(args)))
    lim, work = req["limits"], req["work"]
    os.makedirs(work, exist_ok=True)
    clear_work(work)
    for name, text in {**req["files"], "main.py": req["code"]}.items():
        path = os.path.join(work, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    stdin_r, stdin_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.setsid()
        for fd, target in ((stdin_r, 0), (out_w, 1), (err_w, 2)):
            os.dup2(fd, target)
        os.closerange(3, 65536)
        os.chdir(work)
        limit(lim)
        os.execve(sys.executable, [sys.executable, "-I", "-S", "main.py"], {**req["env"], "HOME": work, "TMPDIR": work})
    for fd in (stdin_r, out_w, err_w):
        os.close(fd)
    data = req["stdin"].encode()
    sel = selectors.DefaultSelector()
    chunks: dict = {out_r: [], err_r: []}
    for fd in (out_r, err_r):
        sel.register(fd, selectors.EVENT_READ)
    pidfd = os.pidfd_open(pid)
    sel.register(pidfd, selectors.EVENT_READ)
    if data:
        os.set_blocking(stdin_w, False)
        sel.register(stdin_w, selectors.EVENT_WRITE)
    else:
        os.close(stdin_w)
    total, stopped, ended = 0, None, None
    deadline = start + lim["wall_s"]
    while (ended is None or len(sel.get_map()) > 0) and stopped is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            stopped = None if ended else "timeout"
            break
        for key, _ in sel.select(remaining):
            if key.fd == pidfd:
                ended = os.wait4(pid, 0)  # drain what is already in the pipes, then stop (stragglers die below)
                sel.unregister(pidfd)
                deadline = min(deadline, time.monotonic() + 0.05)
                continue
            if key.fd == stdin_w:
                try:
                    data = data[os.write(stdin_w, data[:65536]) :]
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(stdin_w)
                    os.close(stdin_w)
                continue
            chunk = os.read(key.fd, 65536)
            if not chunk:
                sel.unregister(key.fd)
                continue
            chunks[key.fd].append(chunk[: max(0, lim["output_bytes"] - total)])
            total += len(chunk)
            if total > lim["output_bytes"]:
                stopped = "output_limit"
    kill_stragglers()
    _, status, usage = ended or os.wait4(pid, 0)
    files = {}
    for name in req["collect"]:
        path = os.path.join(work, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                files[name] = f.read(lim["output_bytes"]).decode("utf-8", "replace")
    result = {
        "stdout": b"".join(chunks[out_r]).decode("utf-8", "replace"),
        "stderr": b"".join(chunks[err_r]).decode("utf-8", "replace"),
        "status": None if stopped == "timeout" else os.waitstatus_to_exitcode(status),
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "stopped": stopped,
        "files": files,
    }
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
