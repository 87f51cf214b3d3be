"""Fixtures of the harness's own tests: the local server, scratch databases and clusters."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from psycopg import sql

from lift_db.local.platform_layer import ensure_platform_layer
from lift_db.local.project import Project, find_project
from lift_db.local.server import LOCAL_PASSWORD, SUPERUSER, LocalServer
from lift_db.local.target import Target, connect

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def project() -> Project:
    return find_project(ROOT)


@pytest.fixture(scope="session")
def local_server(project: Project) -> LocalServer:
    """The checkout's embedded server, which `make db` started; started here if it is not."""
    server = LocalServer.for_project(project)
    server.start(out=None)
    return server


ScratchFactory = Callable[[], Target]


@pytest.fixture
def scratch_db(local_server: LocalServer) -> Iterator[ScratchFactory]:
    """Fresh databases with the platform layer on the local server, dropped afterwards."""
    created: list[str] = []

    def make() -> Target:
        name = f"scratch_{secrets.token_hex(4)}"
        with connect(local_server.admin_url()) as conn:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        created.append(name)
        target = Target(url=local_server.url(dbname=name), admin_url=local_server.admin_url(name))
        with target.connect(admin=True) as conn:
            ensure_platform_layer(conn)
        return target

    yield make
    with connect(local_server.admin_url()) as conn:
        for name in created:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def scratch_state(project: Project, local_server: LocalServer) -> Iterator[Path]:
    """A state folder for a throwaway cluster, inside the (traversable) project state folder."""
    path = project.state_dir / "scratch" / secrets.token_hex(4)
    yield path
    LocalServer(Project(project.root, path), local_server.install).destroy()


def run_lift_db(
    *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """Run the `lift-db` command as a user would, capturing its output."""
    full_env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "lift_db.cli", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def admin_url_of(port: int, dbname: str = "postgres") -> str:
    return f"postgresql://{SUPERUSER}:{LOCAL_PASSWORD}@127.0.0.1:{port}/{dbname}"
