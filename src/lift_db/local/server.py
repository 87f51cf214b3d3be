"""The embedded local server: a PostgreSQL cluster under `.lift-db/`, listening on 127.0.0.1.

The cluster's superuser is `supabase_admin`, as on the platform; the platform layer then creates
the non-superuser `postgres` role that migrations and the app use. PostgreSQL refuses to run as
root, so under root every server process runs as the unprivileged OS user `lift-db`.

Under root the state folder stays root's (`server.json`, `server.log`, the pgTAP cache); only
`data/` belongs to `lift-db`, and root writes nothing inside it (see `lift_db.local.hostfs`). The
server's settings travel on pg_ctl's command line instead of a file in the data directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import psycopg

from lift_db.errors import PortInUseError, ServerError
from lift_db.local import _acl, hostfs
from lift_db.local.binaries import PgInstall, find_install
from lift_db.local.project import Project

SERVICE_USER = "lift-db"
SUPERUSER = "supabase_admin"
# Local-only credentials, the same the Supabase CLI's local stack uses. The server listens on the
# loopback interface only.
LOCAL_PASSWORD = "postgres"  # noqa: S105
HOST = "127.0.0.1"
START_TIMEOUT_S = 60


def running_as_root() -> bool:
    return os.geteuid() == 0


@dataclass(frozen=True)
class LocalServer:
    """The embedded server of one project checkout."""

    project: Project
    install: PgInstall

    @classmethod
    def for_project(cls, project: Project) -> LocalServer:
        return cls(project, find_install())

    # -- paths and recorded state ------------------------------------------------------------
    @property
    def state_dir(self) -> Path:
        return self.project.state_dir

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "server.log"

    @property
    def state_file(self) -> Path:
        return self.state_dir / "server.json"

    def recorded_port(self) -> int | None:
        # Earlier versions left it to the service user, who runs the server anyway: a port
        # number from it gives nobody more than they had.
        data = hostfs.read_trusted(self.state_file, limit=4096, also_owner=_service_uid())
        try:
            value = json.loads(data or b"").get("port")
        except (ValueError, AttributeError):
            return None
        return value if isinstance(value, int) else None

    def port(self) -> int:
        return self.recorded_port() or self.project.db_port()

    def url(self, user: str = "postgres", dbname: str = "postgres", port: int | None = None) -> str:
        return f"postgresql://{user}:{LOCAL_PASSWORD}@{HOST}:{port or self.port()}/{dbname}"

    def admin_url(self, dbname: str = "postgres") -> str:
        return self.url(SUPERUSER, dbname)

    # -- process inspection --------------------------------------------------------------------
    def postmaster_pid(self) -> int | None:
        """The pid of a live postmaster serving this data directory, or None."""
        data = hostfs.read_service_file(self.data_dir / "postmaster.pid")
        try:
            pid = int((data or b"").decode(errors="replace").splitlines()[0])
        except (IndexError, ValueError):
            return None
        return pid if self._serves_data_dir(pid) else None

    def _serves_data_dir(self, pid: int) -> bool:
        # A pid from a killed run may have been reused by an unrelated process: only a postgres
        # process working in our data directory counts.
        try:
            cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
            exe = Path(os.readlink(f"/proc/{pid}/exe")).name
        except OSError:
            return False
        return exe == "postgres" and cwd == self.data_dir.resolve()

    def _orphans(self) -> list[int]:
        """Server processes left in our data directory after their postmaster died."""
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and self._serves_data_dir(int(entry.name)):
                found.append(int(entry.name))
        return found

    def is_running(self) -> bool:
        return self.postmaster_pid() is not None

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self, port: int | None = None, out: TextIO | None = sys.stdout) -> str:
        """Start the server (or reuse the running one) and return its connection URL."""
        self.install.require_extensions("vector", "pgtap")
        self._refuse_unsafe_paths()
        user = _ensure_service_user() if running_as_root() else None
        try:
            state_fd = hostfs.open_own_folder(self.state_dir, user.pw_uid if user else None)
            try:
                return self._start(state_fd, user, port, out)
            finally:
                os.close(state_fd)
        except PermissionError as exc:
            raise ServerError(
                f"cannot write in the state folder {self.state_dir}: {exc.strerror}",
                "run lift-db as the user who owns it (root started this server?), or set "
                "LIFT_DB_STATE_DIR to a folder of yours",
            ) from exc

    def _start(
        self, state_fd: int, user: pwd.struct_passwd | None, port: int | None, out: TextIO | None
    ) -> str:
        wanted = port or self.recorded_port() or self.project.db_port()
        pid = self.postmaster_pid()
        if pid is not None:
            current = self.port()
            if port is not None and port != current:
                raise ServerError(
                    f"the local server is already running on port {current}",
                    f"run `lift-db stop` first to restart it on port {port}",
                )
            self._wait_ready(current)
            self._record_port(state_fd, current)
            _say(out, f"local server already running (pid {pid}), reusing it")
            return self.url(port=current)
        self._recover_stale(out)
        _check_port_free(wanted)
        os.close(hostfs.open_service_folder(state_fd, "data", user))
        if user is not None:
            _grant_traverse(self.data_dir, user)
            _grant_traverse(self.install.prefix, user)
        if not (self.data_dir / "PG_VERSION").is_file():
            self._initdb(state_fd, user, out)
        log_fd = hostfs.open_log(state_fd, self.log_file.name)
        try:
            result = self._run(
                [
                    str(self.install.bin("pg_ctl")),
                    "start",
                    "-w",
                    "-t",
                    str(START_TIMEOUT_S),
                    "-D",
                    str(self.data_dir),
                    "-o",
                    _server_options(wanted),
                ],
                check=False,
                stdout=log_fd,
            )
        finally:
            os.close(log_fd)
        if result.returncode != 0:
            raise ServerError(
                f"the local server did not start on port {wanted}:\n"
                f"{result.stderr.strip()}\n{self._log_tail()}",
                f"see {self.log_file}",
            )
        self._record_port(state_fd, wanted)
        self._wait_ready(wanted)
        return self.url(port=wanted)

    def _record_port(self, state_fd: int, port: int) -> None:
        data = (json.dumps({"port": port}) + "\n").encode()
        hostfs.replace_file(state_fd, self.state_file.name, data)

    def stop(self, out: TextIO | None = sys.stdout) -> bool:
        """Stop the server; False when it was not running."""
        if self.postmaster_pid() is None:
            self._recover_stale(out)
            return False
        self._run(
            [str(self.install.bin("pg_ctl")), "stop", "-m", "fast", "-w", "-D", str(self.data_dir)]
        )
        return True

    def destroy(self) -> None:
        """Stop the server and delete its data directory (used by tests on scratch clusters)."""
        self.stop(out=None)
        # rmtree works through folder descriptors and never follows a link.
        shutil.rmtree(self.state_dir, ignore_errors=True)

    # -- helpers ---------------------------------------------------------------------------------
    def _refuse_unsafe_paths(self) -> None:
        hostfs.refuse_shell_metacharacters(self.state_dir, "state folder")
        hostfs.refuse_shell_metacharacters(self.install.prefix, "server installation")

    def _recover_stale(self, out: TextIO | None) -> None:
        pidfile = self.data_dir / "postmaster.pid"
        if not pidfile.exists():
            return
        for pid in self._orphans():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while self._orphans() and time.monotonic() < deadline:
            time.sleep(0.05)
        pidfile.unlink(missing_ok=True)
        _say(out, f"removed the stale pid file of a server that was killed ({pidfile})")

    def _initdb(self, state_fd: int, user: pwd.struct_passwd | None, out: TextIO | None) -> None:
        _say(out, f"initialising a new cluster in {self.data_dir}")
        pwfile = self.state_dir / ".pwfile"
        fd = hostfs.create_new(state_fd, pwfile.name, 0o600)
        try:
            os.write(fd, (LOCAL_PASSWORD + "\n").encode())
            if user is not None:
                os.fchown(fd, user.pw_uid, user.pw_gid)
        finally:
            os.close(fd)
        try:
            self._run(
                [
                    str(self.install.bin("initdb")),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale-provider=builtin",
                    "--builtin-locale=C.UTF-8",
                    "--locale=C",
                ]
            )
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(pwfile.name, dir_fd=state_fd)

    def _wait_ready(self, port: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                with psycopg.connect(self.url(SUPERUSER, port=port), connect_timeout=5):
                    return
            except psycopg.OperationalError as exc:
                last = exc
                time.sleep(0.1)
        raise ServerError(f"the local server on port {port} does not accept connections: {last}")

    def _log_tail(self, lines: int = 15) -> str:
        data = hostfs.read_trusted(self.log_file, limit=64 * 1024, tail=True)
        if data is None:
            return "(no server log)"
        return "\n".join(data.decode(errors="replace").splitlines()[-lines:])

    def _run(
        self, argv: list[str], check: bool = True, stdout: int | None = None
    ) -> subprocess.CompletedProcess[str]:
        uid = gid = None
        groups: list[int] | None = None
        if running_as_root():
            user = pwd.getpwnam(SERVICE_USER)
            uid, gid, groups = user.pw_uid, user.pw_gid, []
        env = {**os.environ, "LC_ALL": "C", "TZ": "UTC"}
        result = subprocess.run(
            argv,
            cwd=self.state_dir,
            env=env,
            stdout=subprocess.PIPE if stdout is None else stdout,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
            user=uid,
            group=gid,
            extra_groups=groups,
        )
        if check and result.returncode != 0:
            raise ServerError(
                f"{Path(argv[0]).name} failed (exit {result.returncode}):\n"
                f"{(result.stderr or result.stdout or '').strip()}"
            )
        return result


def _server_options(port: int) -> str:
    """The server's settings, passed on pg_ctl's command line: nothing root writes into the data
    directory, which the service user controls. Every value is ours, and quoted for the shell
    that pg_ctl starts the server through."""
    settings = {
        "listen_addresses": HOST,  # loopback only
        "port": str(port),
        "unix_socket_directories": "",
        "wal_level": "logical",  # logical decoding for the Realtime tests
        "max_replication_slots": "10",
        "max_wal_senders": "10",
        "max_connections": "200",
        "shared_buffers": "256MB",
        "log_min_messages": "warning",
        "log_line_prefix": "%m [%p] %q%u@%d ",
    }
    return " ".join(f"-c {shlex.quote(f'{name}={value}')}" for name, value in settings.items())


def _say(out: TextIO | None, message: str) -> None:
    if out is not None:
        print(message, file=out)


def _check_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As PostgreSQL itself does: connections in TIME_WAIT from a previous run do not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as exc:
            raise PortInUseError(
                f"port {port} on {HOST} is already in use by another process",
                f"stop that process, or start on another port: `lift-db start --port {port + 1}`"
                " (or set LIFT_DB_PORT)",
            ) from exc


def _service_uid() -> int | None:
    try:
        return pwd.getpwnam(SERVICE_USER).pw_uid
    except KeyError:
        return None


def _ensure_service_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        pass
    nologin = "/usr/sbin/nologin" if Path("/usr/sbin/nologin").exists() else "/bin/false"
    result = subprocess.run(
        ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
         "--shell", nologin, SERVICE_USER],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0 and "already exists" not in result.stderr:
        raise ServerError(
            f"could not create the OS user {SERVICE_USER!r} that runs the server as root: "
            f"{result.stderr.strip()}",
            f"create it yourself (`useradd --system {SERVICE_USER}`) "
            "or run lift-db as a normal user",
        )
    return pwd.getpwnam(SERVICE_USER)


def _grant_traverse(path: Path, user: pwd.struct_passwd) -> None:
    """Let the service user reach `path`: a named ACL entry where a folder above withholds search.

    A folder's mode is never widened: that would open it (`/root`, a private home) to everyone.
    """
    # The folders of the path as written (links skipped) and of the path the links lead to.
    named = [f for f in reversed((path, *path.parents)) if not f.is_symlink()]
    real = path.resolve()
    folders = dict.fromkeys([*named, *reversed((real, *real.parents))])
    for folder in folders:
        try:
            granted = _acl.grant_search(folder, user)
        except (_acl.AclError, OSError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ServerError(
                f"the server user {SERVICE_USER!r} cannot reach {path}: {folder} withholds "
                f"search permission and lift-db could not grant it to {SERVICE_USER!r} alone "
                f"({reason})",
                f"grant it yourself (`setfacl -m u:{SERVICE_USER}:x {folder}`, Debian package "
                "`acl`), or keep the project in a folder every user may search (not /root)",
            ) from exc
        if granted:
            print(
                f"note: granted search permission on {folder} to {SERVICE_USER!r} alone (POSIX "
                f"ACL; `setfacl -x u:{SERVICE_USER} {folder}` removes it) so that the server "
                "can reach the project",
                file=sys.stderr,
            )
