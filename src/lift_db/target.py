"""Which database a command acts on: the embedded local server, or `--db-url` / `DATABASE_URL`."""

from __future__ import annotations

import os
from dataclasses import dataclass

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow

from lift_db.errors import TargetUnreachableError
from lift_db.project import Project
from lift_db.server import LocalServer


@dataclass(frozen=True)
class Target:
    """A database to migrate or test.

    `url` connects as the role that owns the app's objects (`postgres`). `admin_url`, known only
    for the embedded server, connects as its superuser; an external target has none.
    `install_platform` (`--install-platform`) lets lift-db create the platform layer's missing
    parts on an external target, without logins or passwords; by default it refuses.
    """

    url: str
    admin_url: str | None = None
    local: LocalServer | None = None
    install_platform: bool = False

    @property
    def is_local(self) -> bool:
        return self.local is not None

    def describe(self) -> str:
        return redact(self.url)

    def connect(self, admin: bool = False, autocommit: bool = True) -> psycopg.Connection[TupleRow]:
        url = self.admin_url if admin and self.admin_url else self.url
        return connect(url, autocommit=autocommit)


def connect(url: str, autocommit: bool = True) -> psycopg.Connection[TupleRow]:
    try:
        conn: psycopg.Connection[TupleRow] = psycopg.connect(
            url, autocommit=autocommit, connect_timeout=10, prepare_threshold=None
        )
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise TargetUnreachableError(
            f"cannot connect to {redact(url)}: {reason}",
            "start the local stack with `lift-db start` (or `make db`), or fix --db-url / "
            "DATABASE_URL",
        ) from exc
    return conn


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<unparsable database URL>"
    host = parts.get("host", "localhost")
    port = parts.get("port", "5432")
    user = parts.get("user", "")
    db = parts.get("dbname", "")
    return f"postgresql://{user}@{host}:{port}/{db}"


def resolve_target(project: Project, db_url: str | None = None) -> Target:
    """`--db-url`, else `DATABASE_URL`, else the embedded server of this checkout."""
    url = db_url or os.environ.get("DATABASE_URL")
    if url:
        try:
            conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            raise TargetUnreachableError(
                f"the database URL is not valid: {exc}",
                "use the form postgresql://user:password@host:port/dbname",
            ) from exc
        return Target(url=url)
    server = LocalServer.for_project(project)
    return Target(url=server.url(), admin_url=server.admin_url(), local=server)
