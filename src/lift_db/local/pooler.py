"""PgBouncer in transaction mode in front of the local server, as Supabase's pooler runs.

Supabase's pooler hands a server connection to a client for one transaction only, so whatever a
client leaves in a session (prepared statements, `SET` without `LOCAL`, temp tables, advisory
locks) is seen by the next client, or breaks. Running Debian's PgBouncer the same way locally
lets the suite prove that the store leaves nothing behind.

`[db.pooler]` of supabase/config.toml says whether `lift-db start` starts it (`enabled`), on
which port, and how (`pool_mode`, `default_pool_size`, `max_client_conn`), as `supabase start`
reads it. PgBouncer runs as the service user (never root); its files live in the state folder:
`pooler/pgbouncer.ini`, `pooler/users.txt` (the local stack's well-known password, readable by
the service user alone), `pooler/pooler.log` and `pooler/pooler.json` (pid and port).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import psycopg

from lift_db.errors import ConfigError, ServerError
from lift_db.local import _service, hostfs
from lift_db.local.project import Project
from lift_db.local.server import HOST, LOCAL_PASSWORD, SUPERUSER, LocalServer

DEFAULT_PORT = 54329
DEFAULT_POOL_SIZE = 15
DEFAULT_MAX_CLIENT_CONN = 200
POOL_MODES = ("transaction", "session", "statement")
# The roles of the local stack that log in with its password.
LOGIN_ROLES = ("postgres", "authenticator", SUPERUSER)
READY_TIMEOUT_S = 30
# Where Debian installs it; PATH may lack /usr/sbin for a normal user.
_SEARCH = ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin")


@dataclass(frozen=True)
class PoolerSettings:
    """What `[db.pooler]` of supabase/config.toml says."""

    enabled: bool = False
    port: int = DEFAULT_PORT
    pool_mode: str = "transaction"
    default_pool_size: int = DEFAULT_POOL_SIZE
    max_client_conn: int = DEFAULT_MAX_CLIENT_CONN

    @classmethod
    def from_project(cls, project: Project) -> PoolerSettings:
        db = project.config().get("db", {})
        section = db.get("pooler", {}) if isinstance(db, dict) else {}
        if not isinstance(section, dict):
            raise ConfigError(f"[db.pooler] in {project.config_file} must be a table")
        where = f"[db.pooler] of {project.config_file}"
        enabled = section.get("enabled", False)
        if not isinstance(enabled, bool):
            raise ConfigError(f"{where}: enabled must be true or false, not {enabled!r}")
        mode = section.get("pool_mode", "transaction")
        if mode not in POOL_MODES:
            raise ConfigError(f"{where}: pool_mode must be one of {', '.join(POOL_MODES)}")
        return cls(
            enabled=enabled,
            port=_int(section, "port", DEFAULT_PORT, 1, 65535, where),
            pool_mode=str(mode),
            default_pool_size=_int(
                section, "default_pool_size", DEFAULT_POOL_SIZE, 1, 10000, where
            ),
            max_client_conn=_int(
                section, "max_client_conn", DEFAULT_MAX_CLIENT_CONN, 1, 100000, where
            ),
        )


def _int(
    section: dict[str, object], key: str, default: int, low: int, high: int, where: str
) -> int:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{where}: {key} must be a whole number in {low}-{high}, not {value!r}")
    return value


def find_pgbouncer() -> Path:
    found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path=os.pathsep.join(_SEARCH))
    if found is None:
        raise ServerError(
            "PgBouncer is not installed, and [db.pooler] (or this test) needs it",
            "install Debian's package: `apt-get install -y pgbouncer` (.ci/run does)",
        )
    return Path(found)


@dataclass(frozen=True)
class LocalPooler:
    """One PgBouncer of the local server; `folder` (in the state folder) holds its files."""

    server: LocalServer
    folder: str = "pooler"

    @property
    def dir(self) -> Path:
        return self.server.state_dir / self.folder

    @property
    def record_file(self) -> Path:
        return self.dir / "pooler.json"

    @property
    def log_file(self) -> Path:
        return self.dir / "pooler.log"

    @property
    def config_file(self) -> Path:
        return self.dir / "pgbouncer.ini"

    def _record(self) -> dict[str, object]:
        return _service.read_record(self.record_file)

    def pid(self) -> int | None:
        pid = self._record().get("pid")
        if isinstance(pid, int) and _service.process_runs(pid, "pgbouncer", str(self.config_file)):
            return pid
        return None

    def is_running(self) -> bool:
        return self.pid() is not None

    def port(self) -> int | None:
        port = self._record().get("port")
        return port if isinstance(port, int) else None

    def url(self, user: str = "postgres", dbname: str = "postgres") -> str:
        port = self.port()
        if port is None:
            raise ServerError("the pooler has never been started", "run `lift-db start`")
        return f"postgresql://{user}:{LOCAL_PASSWORD}@{HOST}:{port}/{dbname}"

    def start(
        self, settings: PoolerSettings, port: int | None = None, out: TextIO | None = sys.stdout
    ) -> str:
        """Start PgBouncer in front of the running server (or reuse the running one)."""
        wanted = port or settings.port
        server_port = self.server.port()
        if self.server.postmaster_pid() is None:
            raise ServerError("the pooler needs the local server running", "run `lift-db start`")
        pid = self.pid()
        if pid is not None:
            record = self._record()
            if record.get("port") == wanted and record.get("server_port") == server_port:
                _say(out, f"pooler already running (pid {pid}), reusing it")
                return self.url()
            _service.terminate(pid)
        binary = find_pgbouncer()
        _check_port_free(wanted)
        user = _service.service_user()
        state_fd = hostfs.open_own_folder(self.server.state_dir)
        try:
            with contextlib.suppress(FileExistsError):
                os.mkdir(self.folder, 0o755, dir_fd=state_fd)
        finally:
            os.close(state_fd)
        fd = hostfs.open_own_folder(self.dir)
        try:
            self._write_users(fd, user.pw_gid if user else None)
            hostfs.replace_file(fd, self.config_file.name, _ini(self, settings, wanted).encode())
            log_fd = hostfs.open_log(fd, self.log_file.name)
            try:
                pid = _service.spawn([str(binary), str(self.config_file)], self.dir, log_fd)
            finally:
                os.close(log_fd)
            record = {"pid": pid, "port": wanted, "server_port": server_port}
            hostfs.replace_file(fd, self.record_file.name, (json.dumps(record) + "\n").encode())
        finally:
            os.close(fd)
        self._wait_ready(pid, wanted)
        _say(out, f"pooler ready ({settings.pool_mode} mode): {self.url()}")
        return self.url()

    def _write_users(self, dir_fd: int, group: int | None) -> None:
        # PgBouncer authenticates clients (SCRAM) and then the server with these passwords.
        lines = "".join(f'"{role}" "{LOCAL_PASSWORD}"\n' for role in LOGIN_ROLES)
        name = "users.txt"
        tmp = f".{name}.new"
        fd = hostfs.create_new(dir_fd, tmp, 0o600)
        try:
            os.write(fd, lines.encode())
            if group is not None:
                os.fchown(fd, -1, group)
                os.fchmod(fd, 0o640)
        finally:
            os.close(fd)
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)

    def _wait_ready(self, pid: int, port: int) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        last: Exception | None = None
        while time.monotonic() < deadline:
            if not _service.process_runs(pid, "pgbouncer", str(self.config_file)):
                break
            try:
                with psycopg.connect(
                    self.url(), connect_timeout=5, prepare_threshold=None, autocommit=True
                ) as conn:
                    conn.execute("select 1")
                    return
            except psycopg.OperationalError as exc:
                last = exc
                time.sleep(0.1)
        raise ServerError(
            f"the pooler on port {port} does not accept connections: {last or 'it exited'}\n"
            f"{self._log_tail()}",
            f"see {self.log_file}",
        )

    def _log_tail(self, lines: int = 10) -> str:
        data = hostfs.read_trusted(self.log_file, limit=16 * 1024, tail=True) or b""
        return "\n".join(data.decode(errors="replace").splitlines()[-lines:])

    def stop(self) -> bool:
        """Stop PgBouncer; False when it was not running."""
        pid = self.pid()
        if pid is None:
            return False
        _service.terminate(pid)
        return True


def _ini(pooler: LocalPooler, settings: PoolerSettings, port: int) -> str:
    server_port = pooler.server.port()
    return f"""\
; Written by lift-db at every start; edit [db.pooler] of supabase/config.toml instead.
[databases]
* = host={HOST} port={server_port}

[pgbouncer]
listen_addr = {HOST}
listen_port = {port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {pooler.dir / "users.txt"}
pool_mode = {settings.pool_mode}
default_pool_size = {settings.default_pool_size}
max_client_conn = {settings.max_client_conn}
; libpq and psycopg send these at login; the pool is shared, so they are not kept per client.
ignore_startup_parameters = extra_float_digits,options
; Supabase's pooler likewise resets nothing between clients in transaction mode.
server_reset_query =
server_check_query = select 1
server_check_delay = 10
server_login_retry = 1
log_connections = 0
log_disconnections = 0
"""


def _check_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as exc:
            raise ServerError(
                f"port {port} on {HOST} is already in use; the pooler cannot listen there",
                "set another [db.pooler] port in supabase/config.toml, or `lift-db start "
                "--pooler-port N`",
            ) from exc


def _say(out: TextIO | None, message: str) -> None:
    if out is not None:
        print(message, file=out)


def for_project(project: Project) -> LocalPooler:
    return LocalPooler(LocalServer.for_project(project))
