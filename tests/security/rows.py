"""Which rows of a table an attacker may change, sees but may not change, or cannot see.

Rows are told apart by (tableoid, ctid), so any table works, partitioned ones included. Values
are kept as text with their column's type, to be written back in a cast.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from psycopg import sql

from tests.reliability.support import Conn
from tests.security.catalog import Privileges, Relation
from tests.security.identity import Attacker

Row = dict[str, str | None]


@dataclass
class RowSets:
    writable: list[Row] = field(default_factory=list)  # the attacker's own rows
    seen: list[Row] = field(default_factory=list)  # seen, not changeable
    hidden: list[Row] = field(default_factory=list)  # invisible to the attacker

    own: list[Row] = field(default_factory=list)  # seen, and naming the attacker

    @property
    def template(self) -> Row | None:
        """A row of the attacker's own: what a well-formed row of theirs looks like."""
        found = self.writable or self.own
        return found[0] if found else None

    def victims(self) -> list[tuple[str, Row]]:
        """The rows an attack aims at: one the attacker cannot see, one they may only read."""
        picked = [("hidden", self.hidden[0])] if self.hidden else []
        if self.seen:
            picked.append(("read-only", self.seen[0]))
        return picked


def locator(row: Row) -> sql.Composed:
    return sql.SQL("t.tableoid = {}::pg_catalog.oid and t.ctid = {}::pg_catalog.tid").format(
        sql.Literal(row["__tableoid"]), sql.Literal(row["__ctid"])
    )


def _rows_query(rel: Relation, lock: bool = False) -> sql.Composed:
    values = sql.SQL(", ").join(
        sql.SQL("{}::pg_catalog.text").format(sql.Identifier("t", c.name)) for c in rel.columns
    )
    return sql.SQL(
        "select t.tableoid::pg_catalog.oid::pg_catalog.text, t.ctid::pg_catalog.text, {}"
        " from {}.{} as t order by 1, 2 limit 2000{}"
    ).format(
        values,
        sql.Identifier(rel.schema),
        sql.Identifier(rel.name),
        sql.SQL(" for update" if lock else ""),
    )


def _as_rows(
    rel: Relation, fetched: tuple[tuple[object, ...], ...] | list[tuple[object, ...]]
) -> list[Row]:
    names = ["__tableoid", "__ctid", *(c.name for c in rel.columns)]
    return [
        {n: None if v is None else str(v) for n, v in zip(names, r, strict=True)} for r in fetched
    ]


def row_sets(
    admin: Conn,
    attacker: Attacker,
    rel: Relation,
    privileges: Privileges,
    prefer: list[uuid.UUID],
) -> RowSets:
    """Sort the table's rows by what the attacker may do with them; rows mentioning one of
    `prefer` (the victim and their sessions) come first."""
    everything = _as_rows(rel, admin.execute(_rows_query(rel)).fetchall())
    with attacker.request():
        seen_out = attacker.run(_rows_query(rel))
        writable_out = attacker.run(_rows_query(rel, lock=True)) if privileges.update else None
    seen = {(r[0], r[1]) for r in seen_out.rows} if seen_out.ok else set()
    writable = (
        {(r[0], r[1]) for r in writable_out.rows}
        if writable_out is not None and writable_out.ok
        else set()
    )
    marks = [str(p) for p in prefer]

    def rank(row: Row) -> int:
        values = set(row.values())
        return next((i for i, m in enumerate(marks) if m in values), len(marks))

    sets = RowSets()
    for row in sorted(everything, key=rank):
        key = (row["__tableoid"], row["__ctid"])
        if key in writable:
            sets.writable.append(row)
        elif key in seen:
            sets.seen.append(row)
        else:
            sets.hidden.append(row)
    # The attacker's own rows first among the writable ones.
    if attacker.user is not None:
        me = str(attacker.user)
        sets.writable.sort(key=lambda r: me not in r.values())
        sets.own = [r for r in sets.seen if me in r.values()]
    return sets
