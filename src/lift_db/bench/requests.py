"""One request as PostgREST (and the store) makes it: a transaction that switches to the API role
and sets the JWT claims, then the statement. Only the statement is timed: the role switch is the
same on both sides of every comparison and would only dilute the ratio."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, LiteralString
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from lift_db.bench.measure import clock
from lift_db.store.postgres import queries as store_queries

Conn = psycopg.Connection[TupleRow]
Query = LiteralString | sql.SQL | sql.Composed


@dataclass(frozen=True)
class Identity:
    role: str
    claims: str

    @classmethod
    def user(cls, user_id: UUID) -> Identity:
        claims = {"sub": str(user_id), "role": "authenticated", "aud": "authenticated"}
        return cls("authenticated", json.dumps(claims))

    @classmethod
    def service(cls) -> Identity:
        return cls("service_role", json.dumps({"role": "service_role"}))


SET_LOCAL: LiteralString = "select set_config(%s, %s, true)"
# Each role's settings, read once per process as the store reads them once per store.
_role_settings: dict[str, tuple[list[str], list[str]]] = {}


def act_as(conn: Conn, who: Identity, extra: tuple[tuple[str, str], ...] = ()) -> None:
    """The store's first statement of every transaction: role, claims, the role's settings and
    the operation's own (`extra`)."""
    settings = _role_settings.get(who.role)
    if settings is None:
        rows = conn.execute(store_queries.ROLE_SETTINGS, (who.role,)).fetchall()
        settings = ([str(r[0]) for r in rows], [str(r[1]) for r in rows])
        _role_settings[who.role] = settings
    names = [*settings[0], *(n for n, _ in extra)]
    values = [*settings[1], *(v for _, v in extra)]
    conn.execute(store_queries.ACT_AS, (who.role, who.claims, who.claims, names, values))


def _begin(conn: Conn, who: Identity, settings: dict[str, str] | None) -> None:
    act_as(conn, who)
    for name, value in (settings or {}).items():
        conn.execute(SET_LOCAL, (name, value))


def timed(
    conn: Conn,
    who: Identity,
    query: Query,
    params: Any = None,
    settings: dict[str, str] | None = None,
) -> float:
    """Seconds the statement took, as `who`, inside its own committed transaction
    (`settings` are set for that transaction only)."""
    with conn.transaction():
        _begin(conn, who, settings)
        start = clock()
        cur = conn.execute(query, params)
        if cur.description is not None:
            cur.fetchall()
        return clock() - start


def fetch(
    conn: Conn,
    who: Identity,
    query: Query,
    params: Any = None,
    settings: dict[str, str] | None = None,
) -> list[tuple[Any, ...]]:
    with conn.transaction():
        _begin(conn, who, settings)
        return list(conn.execute(query, params).fetchall())


def timed_fetch(
    conn: Conn,
    who: Identity,
    query: Query,
    params: Any = None,
    settings: dict[str, str] | None = None,
) -> tuple[float, list[tuple[Any, ...]]]:
    """Like `timed`, and the rows too (fetching them is part of the time)."""
    with conn.transaction():
        _begin(conn, who, settings)
        start = clock()
        rows = list(conn.execute(query, params).fetchall())
        return clock() - start, rows


def plan(
    conn: Conn,
    who: Identity,
    query: Query,
    params: Any = None,
    settings: dict[str, str] | None = None,
) -> str:
    """The plan's shape, e.g. `Limit > Index Scan using sessions_pkey on sessions`."""
    explain = sql.SQL("explain (format json, costs false) ") + _composable(query)
    with conn.transaction():
        _begin(conn, who, settings)
        row = conn.execute(explain, params).fetchone()
    if row is None:
        return "?"
    doc = row[0] if not isinstance(row[0], str) else json.loads(row[0])
    return summarize(doc[0]["Plan"])


def summarize(node: dict[str, Any]) -> str:
    parts: list[str] = []
    stack = [node]
    while stack:
        current = stack.pop(0)
        label = str(current["Node Type"])
        if "Index Name" in current:
            label += f" using {current['Index Name']}"
        elif "Relation Name" in current:
            label += f" on {current['Relation Name']}"
        parts.append(label)
        stack = list(current.get("Plans", [])) + stack
    return " > ".join(parts)


def _composable(query: Query) -> sql.SQL | sql.Composed:
    return query if isinstance(query, sql.SQL | sql.Composed) else sql.SQL(query)
