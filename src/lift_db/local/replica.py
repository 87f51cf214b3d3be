"""A streaming standby of the local server, as a read replica of the platform runs.

`lift-db start --replica` copies the running server with its own `pg_basebackup` (streaming the
WAL it needs, writing `standby.signal` and `primary_conninfo`) into `replica/data` of the state
folder, then starts it on its own port (`--replica-port`, default the server's port + 20). It
replays the primary's WAL continuously and serves reads only. Like the server, it runs as the
service user; its folder belongs to that user, and root writes nothing inside it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import psycopg

from lift_db.errors import ServerError
from lift_db.local import _service, hostfs
from lift_db.local.project import Project
from lift_db.local.server import (
    HOST,
    LOCAL_PASSWORD,
    START_TIMEOUT_S,
    SUPERUSER,
    LocalServer,
    _check_port_free,
    _server_options,
)

# Ports of the local stack's extras, derived from the server's so that clones on other ports
# never collide: the pooler's test instance at +10, the standby at +20.
REPLICA_PORT_OFFSET = 20


@dataclass(frozen=True)
class LocalReplica:
    """The standby of one local server; `folder` (in the state folder) holds it."""

    server: LocalServer
    folder: str = "replica"

    @property
    def dir(self) -> Path:
        return self.server.state_dir / self.folder

    @property
    def data_dir(self) -> Path:
        return self.dir / "data"

    @property
    def log_file(self) -> Path:
        return self.dir / "replica.log"

    @property
    def record_file(self) -> Path:
        return self.dir / "replica.json"

    def default_port(self) -> int:
        return self.server.port() + REPLICA_PORT_OFFSET

    def port(self) -> int:
        port = _service.read_record(self.record_file).get("port")
        return port if isinstance(port, int) else self.default_port()

    def url(self, user: str = "postgres", dbname: str = "postgres") -> str:
        return f"postgresql://{user}:{LOCAL_PASSWORD}@{HOST}:{self.port()}/{dbname}"

    def admin_url(self, dbname: str = "postgres") -> str:
        return self.url(SUPERUSER, dbname)

    def _as_server(self) -> LocalServer:
        """The standby seen as a server of its own (its pid file, its pg_ctl)."""
        return LocalServer(Project(self.server.project.root, self.dir), self.server.install)

    def postmaster_pid(self) -> int | None:
        return self._as_server().postmaster_pid()

    def is_running(self) -> bool:
        return self.postmaster_pid() is not None

    def start(self, port: int | None = None, out: TextIO | None = sys.stdout) -> str:
        """Create the standby if it does not exist, start it, and wait until it streams."""
        if self.server.postmaster_pid() is None:
            raise ServerError("the replica needs the local server running", "run `lift-db start`")
        wanted = port or self.port()
        if self.is_running():
            if wanted != self.port():
                raise ServerError(
                    f"the replica is already running on port {self.port()}",
                    "run `lift-db stop` first",
                )
            _say(out, f"replica already running (pid {self.postmaster_pid()}), reusing it")
            return self.url()
        self._as_server()._recover_stale(out)
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
            if not (self.data_dir / "PG_VERSION").is_file():
                # pg_basebackup wants an empty (or absent) target it can create.
                shutil.rmtree(self.data_dir, ignore_errors=True)
                os.close(hostfs.open_service_folder(fd, "data", user))
                self._basebackup(out)
            log_fd = hostfs.open_log(fd, self.log_file.name)
            try:
                result = self.server._run(
                    [
                        str(self.server.install.bin("pg_ctl")),
                        "start", "-w", "-t", str(START_TIMEOUT_S),
                        "-D", str(self.data_dir),
                        "-o", _server_options(wanted) + " -c hot_standby=on"
                        " -c hot_standby_feedback=on",
                    ],
                    check=False,
                    stdout=log_fd,
                )  # fmt: skip
            finally:
                os.close(log_fd)
            if result.returncode != 0:
                raise ServerError(
                    f"the replica did not start on port {wanted}:\n{result.stderr.strip()}",
                    f"see {self.log_file} and {self.data_dir}/log",
                )
            data = (json.dumps({"port": wanted}) + "\n").encode()
            hostfs.replace_file(fd, self.record_file.name, data)
        finally:
            os.close(fd)
        self._wait_streaming()
        _say(out, f"replica ready (streaming from port {self.server.port()}): {self.url()}")
        return self.url()

    def _basebackup(self, out: TextIO | None) -> None:
        _say(out, f"copying the server into a standby with pg_basebackup ({self.data_dir})")
        conninfo = (
            f"host={HOST} port={self.server.port()} user={SUPERUSER} "
            "application_name=lift_db_replica"
        )
        # The password travels in the environment, never on a command line others can read;
        # --write-recovery-conf keeps it in primary_conninfo, inside the service user's folder.
        self.server._run(
            [
                str(self.server.install.bin("pg_basebackup")),
                "-d", conninfo,
                "-D", str(self.data_dir),
                "--checkpoint=fast",
                "--wal-method=stream",
                "--write-recovery-conf",
                "--no-sync",
            ],
            extra_env={"PGPASSWORD": LOCAL_PASSWORD},
        )  # fmt: skip

    def _wait_streaming(self) -> None:
        """Until the primary sees the standby streaming and it replayed what exists now."""
        deadline = time.monotonic() + START_TIMEOUT_S
        with psycopg.connect(self.server.admin_url(), autocommit=True) as primary:
            row = primary.execute("select pg_current_wal_lsn()::text").fetchone()
            target = row[0] if row else "0/0"
            while time.monotonic() < deadline:
                with contextlib.suppress(psycopg.OperationalError):
                    with psycopg.connect(self.admin_url(), connect_timeout=5) as standby:
                        done = standby.execute(
                            "select pg_is_in_recovery() and pg_last_wal_replay_lsn() >= %s::pg_lsn",
                            (target,),
                        ).fetchone()
                    if done and done[0]:
                        return
                time.sleep(0.1)
        raise ServerError(f"the replica on port {self.port()} does not replay the primary's WAL")

    def stop(self, out: TextIO | None = None) -> bool:
        """Stop the standby; False when it was not running."""
        return self._as_server().stop(out=out)

    def destroy(self) -> None:
        """Stop it and delete its copy (the next start copies the server afresh)."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _say(out: TextIO | None, message: str) -> None:
    if out is not None:
        print(message, file=out)
