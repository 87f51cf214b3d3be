"""The attacker's connection: who the trusted layer made it, and what its SQL got back.

The trusted layer sets the identity (role and JWT claims) in one of the two ways the stack does:
logged in as `authenticator` followed by `set role` (PostgREST's login), or logged in as
`postgres` followed by `set local role` in each transaction (the session store). After that the
attacker may send any SQL except switching role or rewriting its claims, which would make it
someone else. Every request runs in a transaction that is rolled back, whatever happens.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.reliability.support import Conn

Login = Literal["authenticator", "postgres"]
ApiRole = Literal["authenticated", "anon"]
Statement = sql.Composable | str


@dataclass(frozen=True)
class Identity:
    login: Login
    role: ApiRole

    @property
    def label(self) -> str:
        how = "set role" if self.login == "authenticator" else "set local role"
        return f"{self.login} + {how} {self.role}"


IDENTITIES = tuple(
    Identity(login, role)
    for login in ("authenticator", "postgres")
    for role in ("authenticated", "anon")
)


@dataclass(frozen=True)
class Outcome:
    """What one statement came to: its SQLSTATE (None: it succeeded), message and rows."""

    state: str | None
    message: str = ""
    detail: str = ""
    hint: str = ""
    rowcount: int = 0
    rows: tuple[tuple[Any, ...], ...] = ()

    @property
    def ok(self) -> bool:
        return self.state is None

    def text(self) -> str:
        if self.ok:
            return f"succeeded ({self.rowcount} rows)"
        return f"{self.state}: {self.message}"


def login_url(db_url: str, login: Login) -> str:
    """`authenticator` logs in with the password the platform layer gives it (as postgres's)."""
    if login == "postgres":
        return db_url
    return make_conninfo(db_url, user="authenticator")


def claims_of(identity: Identity, user: uuid.UUID | None) -> str:
    claims: dict[str, str] = {"role": identity.role}
    if identity.role == "authenticated" and user is not None:
        claims.update(sub=str(user), aud="authenticated")
    return json.dumps(claims)


class Attacker:
    """One fresh session of the attacker: nothing it ran before can have been cached."""

    def __init__(self, conn: Conn, identity: Identity, user: uuid.UUID | None) -> None:
        self.conn = conn
        self.identity = identity
        self.user = user if identity.role == "authenticated" else None
        self.claims = claims_of(identity, self.user)
        self.notices: list[str] = []
        conn.add_notice_handler(lambda d: self.notices.append(d.message_primary or ""))

    @contextmanager
    def request(self) -> Iterator[Attacker]:
        """One transaction as the identity, rolled back at the end."""
        with self.conn.transaction(force_rollback=True):
            if self.identity.login == "postgres":
                self.conn.execute(
                    sql.SQL("set local role {}").format(sql.Identifier(self.identity.role))
                )
                self.conn.execute(
                    "select pg_catalog.set_config('request.jwt.claims', %s, true)", (self.claims,)
                )
            yield self

    def run(self, statement: Statement, params: Any = None, *, undo: bool = False) -> Outcome:
        """One statement in a savepoint of the current request: its outcome, never an error.
        With `undo`, whatever it did is rolled back at once."""
        query = sql.SQL(statement) if isinstance(statement, str) else statement
        try:
            with self.conn.transaction(force_rollback=undo):
                cur = self.conn.execute(query, params)  # type: ignore[call-overload]
                rows = tuple(cur.fetchall()) if cur.description else ()
                return Outcome(None, rowcount=cur.rowcount, rows=rows)
        except psycopg.Error as exc:
            diag = exc.diag
            return Outcome(
                exc.sqlstate or "(none)",
                diag.message_primary or str(exc),
                diag.message_detail or "",
                diag.message_hint or "",
            )


@contextmanager
def attacker(db_url: str, identity: Identity, user: uuid.UUID | None) -> Iterator[Attacker]:
    """A new session logged in as the identity's login, its identity set by the trusted layer."""
    conn = psycopg.connect(login_url(db_url, identity.login), autocommit=True)
    try:
        if identity.login == "authenticator":
            conn.execute(sql.SQL("set role {}").format(sql.Identifier(identity.role)))
            conn.execute(
                "select pg_catalog.set_config('request.jwt.claims', %s, false)",
                (claims_of(identity, user if identity.role == "authenticated" else None),),
            )
        yield Attacker(conn, identity, user)
    finally:
        conn.close()
