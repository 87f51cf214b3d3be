"""A database password never reaches output, error messages or a client tool's command line, and
backups (which hold password hashes) are private files.

The password here is a role's own, distinctive one, so finding it anywhere is a leak. Client
tools run through wrappers that record their real command line (`/proc/<pid>/cmdline`, what
`ps` shows every local user) before running the tool.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from psycopg import sql

from lift_db.local.binaries import find_install
from lift_db.local.server import LocalServer
from lift_db.local.target import Target, connect
from lift_db.testing import _pgtap
from tests.conftest import ScratchFactory, free_port, run_lift_db


@dataclass(frozen=True)
class Secret:
    password: str
    url: str  # a scratch database, as a role whose password is `password`


@pytest.fixture
def secret(local_server: LocalServer, scratch_db: ScratchFactory) -> Iterator[Secret]:
    target = scratch_db()
    role = f"lift_secret_{secrets.token_hex(4)}"
    password = f"S3cret-{secrets.token_hex(8)}"
    with connect(local_server.admin_url()) as conn:
        conn.execute(
            sql.SQL("create role {} login password {} in role postgres").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
    dbname = target.url.rsplit("/", 1)[1]
    url = f"postgresql://{role}:{password}@127.0.0.1:{local_server.port()}/{dbname}"
    yield Secret(password, url)
    with connect(local_server.admin_url()) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(dbname))
        )
        conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(role)))


def _leaks(text: str, secret: Secret) -> bool:
    return secret.password in text


def test_status_prints_the_url_without_its_password(secret: Secret) -> None:
    result = run_lift_db("--db-url", secret.url, "status")
    assert result.returncode == 0, result.stderr
    assert "url: postgresql://lift_secret_" in result.stdout
    assert not _leaks(result.stdout + result.stderr, secret), result.stdout


@pytest.mark.parametrize("how", ["wrong-password", "nothing-listens", "unparsable"])
def test_a_failing_connection_names_no_password(how: str, secret: Secret) -> None:
    host_part = secret.url.split("@", 1)[1]
    user = secret.url.split("//", 1)[1].split(":", 1)[0]
    url = {
        "wrong-password": f"postgresql://{user}:{secret.password}x@{host_part}",
        "nothing-listens": f"postgresql://{user}:{secret.password}@127.0.0.1:{free_port()}/x",
        "unparsable": f"postgresql://{user}:{secret.password}@[127.0.0.1/x",
    }[how]
    for command in (["status"], ["migrate"], ["dump", "-o", "/nonexistent/x.tar"]):
        result = run_lift_db("--db-url", url, *command)
        assert result.returncode != 0, result.stdout
        assert "Traceback" not in result.stderr, result.stderr
        assert not _leaks(result.stdout + result.stderr, secret), result.stderr


def test_dump_writes_a_private_backup(secret: Secret, tmp_path: Path) -> None:
    path = tmp_path / "private.tar"
    result = run_lift_db("--db-url", secret.url, "dump", "-o", str(path))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not _leaks(result.stdout + result.stderr, secret)
    assert [p.name for p in tmp_path.iterdir()] == ["private.tar"], "no partial file is left"


WRAPPER = """#!/bin/sh
tr '\\0' ' ' < /proc/$$/cmdline >> {log}
echo >> {log}
exec {real} "$@"
"""


@pytest.fixture
def recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PostgreSQL prefix whose psql, pg_dump and pg_restore record their command line."""
    real = find_install()
    prefix = tmp_path / "pg"
    (prefix / "bin").mkdir(parents=True)
    log = tmp_path / "cmdlines.log"
    log.touch()
    for tool in ("initdb", "pg_ctl", "postgres"):
        (prefix / "bin" / tool).symlink_to(real.bin(tool))
    for tool in ("psql", "pg_dump", "pg_restore"):
        wrapper = prefix / "bin" / tool
        wrapper.write_text(WRAPPER.format(log=log, real=real.bin(tool)))
        wrapper.chmod(0o755)
    monkeypatch.setenv("LIFT_DB_PG_PREFIX", str(prefix))
    return log


def test_client_tools_get_no_password_on_their_command_line(
    secret: Secret, recorded: Path, tmp_path: Path, scratch_db: ScratchFactory
) -> None:
    check = tmp_path / "check.sql"
    check.write_text("select 'ok 1 - connected';\n")
    run = _pgtap.run_file(check, secret.url)
    assert run.returncode == 0, run.stderr
    assert "ok 1 - connected" in run.stdout

    backup = tmp_path / "b.tar"
    env = {"LIFT_DB_PG_PREFIX": os.environ["LIFT_DB_PG_PREFIX"]}
    dumped = run_lift_db("--db-url", secret.url, "dump", "-o", str(backup), env=env)
    assert dumped.returncode == 0, dumped.stderr
    target: Target = scratch_db()
    restored = run_lift_db("--db-url", target.url, "restore", str(backup), env=env)
    assert restored.returncode == 0, restored.stderr

    lines = recorded.read_text().splitlines()
    tools = {Path(line.split()[1]).name for line in lines if line.strip()}
    assert {"psql", "pg_dump", "pg_restore"} <= tools, lines
    for line in lines:
        assert not _leaks(line, secret), line
        assert "password=" not in line.lower(), line
