"""What runs beside the local server: the pooler (when `[db.pooler]` is enabled) and the standby.

`lift-db start` starts them after the server, `lift-db stop` stops them before it, and
`lift-db status` says where they listen.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from lift_db.local.pooler import LocalPooler, PoolerSettings
from lift_db.local.replica import LocalReplica
from lift_db.local.server import LocalServer


def start(
    server: LocalServer,
    *,
    pooler_port: int | None = None,
    replica: bool = False,
    replica_port: int | None = None,
) -> None:
    settings = PoolerSettings.from_project(server.project)
    if settings.enabled or pooler_port is not None:
        LocalPooler(server).start(settings, port=pooler_port, out=sys.stdout)
    if replica:
        LocalReplica(server).start(port=replica_port, out=sys.stdout)


def stop(server: LocalServer, report: Callable[[str], None]) -> None:
    if LocalPooler(server).stop():
        report("stopped the pooler")
    if LocalReplica(server).stop():
        report("stopped the replica")


def status(server: LocalServer) -> list[str]:
    lines = []
    pooler = LocalPooler(server)
    if pooler.is_running():
        lines.append(f"pooler: running, pid {pooler.pid()}, url {pooler.url()}")
    replica = LocalReplica(server)
    if replica.is_running():
        lines.append(f"replica: running, pid {replica.postmaster_pid()}, url {replica.url()}")
    return lines
