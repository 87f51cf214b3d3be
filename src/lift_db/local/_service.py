"""Running a helper process of the local stack as the unprivileged service user.

Under root every process of the stack (the server, its standby, the pooler) runs as the OS user
`lift-db`, so that nothing the stack starts keeps root's rights at run time.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import signal
import socket
import subprocess
import time
from pathlib import Path

from lift_db.local import hostfs
from lift_db.local.server import SERVICE_USER, running_as_root


def service_user() -> pwd.struct_passwd | None:
    """The user helper processes run as: `lift-db` under root, else ourselves (None)."""
    return pwd.getpwnam(SERVICE_USER) if running_as_root() else None


def spawn(argv: list[str], cwd: Path, log_fd: int, env: dict[str, str] | None = None) -> int:
    """Start a long-running process detached from us (its own session), as the service user;
    its output goes to `log_fd`. Returns its pid."""
    user = service_user()
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env={**os.environ, "LC_ALL": "C", "TZ": "UTC", **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=log_fd,
        stderr=log_fd,
        start_new_session=True,
        user=user.pw_uid if user else None,
        group=user.pw_gid if user else None,
        extra_groups=[] if user else None,
    )
    return proc.pid


def process_runs(pid: int, exe_name: str, marker: str) -> bool:
    """Whether `pid` is a live `exe_name` process whose command line names `marker` (a pid from
    an old run may have been reused by an unrelated process)."""
    try:
        exe = Path(os.readlink(f"/proc/{pid}/exe")).name
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return exe == exe_name and marker.encode() in cmdline and state != "Z"


def terminate(pid: int, timeout_s: float = 10.0) -> None:
    """SIGTERM, then SIGKILL when it lingers; reaps it when it is our child."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if not Path(f"/proc/{pid}").exists() or _zombie(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def read_record(path: Path) -> dict[str, object]:
    data = hostfs.read_trusted(path, limit=4096)
    try:
        value = json.loads(data or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def free_or_any_port(wanted: int, host: str = "127.0.0.1") -> int:
    """`wanted` when nothing listens or is bound there, else a port the OS finds free (the
    derived ports of the stack's extras lie in the range the OS also hands out to clients)."""
    for port in (wanted, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError:
                continue
            chosen: int = sock.getsockname()[1]
            return chosen
    raise OSError(f"no free port on {host}")
