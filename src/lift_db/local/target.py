"""Which database a command acts on: the embedded local server, or `--db-url` / `DATABASE_URL`."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import TupleRow

from lift_db.errors import TargetUnreachableError
from lift_db.local.project import Project
from lift_db.local.server import LocalServer


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
    except (psycopg.OperationalError, psycopg.ProgrammingError) as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise TargetUnreachableError(
            f"cannot connect to {redact(url)}: {scrub(reason, url)}",
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


def without_password(url: str) -> tuple[str, str | None]:
    """The URL as a connection string without its password, and the password.

    Client tools get the first on their command line (which every local user can read in `ps`)
    and the password in PGPASSWORD, which only the user and root can read.
    """
    params: dict[str, Any] = dict(conninfo_to_dict(url))
    password = params.pop("password", None)
    return make_conninfo(**params), None if password is None else str(password)


def client_env(url: str, base: Mapping[str, str] | None = None) -> tuple[str, dict[str, str]]:
    """A connection string for a client tool's command line and the environment to run it in:
    the caller's, less any PG* variable but PGPASSFILE, plus PGPASSWORD when the URL holds a
    password. (A password kept in a pgpass file and out of the URL is in neither.)"""
    conninfo, password = without_password(url)
    source = os.environ if base is None else base
    env = {k: v for k, v in source.items() if not k.startswith("PG") or k == "PGPASSFILE"}
    if password is not None:
        env["PGPASSWORD"] = password
    return conninfo, env


def scrub(text: str, url: str) -> str:
    """`text` with the URL's password (and the URL itself) replaced, for messages."""
    try:
        password = without_password(url)[1]
    except psycopg.ProgrammingError:
        password = None
    text = text.replace(url, redact(url))
    if password:
        text = text.replace(password, "***")
    return text


def resolve_target(project: Project, db_url: str | None = None) -> Target:
    """`--db-url`, else `DATABASE_URL`, else the embedded server of this checkout."""
    url = db_url or os.environ.get("DATABASE_URL")
    if url:
        try:
            conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            raise TargetUnreachableError(
                f"the database URL is not valid: {_url_error(exc, url)}",
                "use the form postgresql://user:password@host:port/dbname",
            ) from exc
        return Target(url=url)
    server = LocalServer.for_project(project)
    return Target(url=server.url(), admin_url=server.admin_url(), local=server)


def _url_error(exc: Exception, url: str) -> str:
    """libpq quotes the part of an unparsable URL it stumbled on, which may hold the password."""
    text = str(exc).strip().replace(url, "<the URL>")
    for pattern in _PASSWORD_PATTERNS:
        for match in re.finditer(pattern, url, re.IGNORECASE):
            if match.group(1):
                text = text.replace(match.group(1), "***")
    return text


_PASSWORD_PATTERNS = (
    r"^[a-z][a-z0-9+.-]*://[^:/@]*:([^@]*)@",
    r"password\s*=\s*'((?:[^'\\]|\\.)*)'",
    r"password\s*=\s*([^\s']+)",
)
