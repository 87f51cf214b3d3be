"""Realtime sees what the schema publishes: logical decoding of publication supabase_realtime.

Supabase Realtime reads the WAL through a logical replication slot with the pgoutput plugin,
filtered by publication `supabase_realtime`. Here a temporary slot does the same: a session
updated the way the API updates it must produce an UPDATE for the publication, a table outside
the publication must produce nothing, and a delete must carry only the primary key (replica
identity DEFAULT), not the prompt or the IR.

The slot belongs to the `postgres` role (REPLICATION, as on the platform), is temporary (gone
when its connection closes, even if the test dies) and is dropped explicitly as well.
"""

from __future__ import annotations

import json
import secrets
import struct
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import psycopg
import pytest
from psycopg.rows import TupleRow

from lift_db.local.project import find_project
from lift_db.local.target import connect, resolve_target
from tests.conftest import ROOT

PUBLICATION = "supabase_realtime"


def database_url() -> str:
    return resolve_target(find_project(ROOT)).url


@dataclass
class Change:
    kind: str  # "insert", "update" or "delete"
    relation: str  # schema.table
    new: list[str | None] = field(default_factory=list)
    old_kind: str | None = None  # "K": key columns only, "O": the whole old row
    old: list[str | None] = field(default_factory=list)


class _Reader:
    """Reads pgoutput protocol version 1 messages (the subset Realtime relies on)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> str:
        value = chr(self.data[self.pos])
        self.pos += 1
        return value

    def int16(self) -> int:
        (value,) = struct.unpack_from("!h", self.data, self.pos)
        self.pos += 2
        return int(value)

    def int32(self) -> int:
        (value,) = struct.unpack_from("!i", self.data, self.pos)
        self.pos += 4
        return int(value)

    def string(self) -> str:
        end = self.data.index(b"\0", self.pos)
        value = self.data[self.pos : end].decode()
        self.pos = end + 1
        return value

    def tuple_data(self) -> list[str | None]:
        values: list[str | None] = []
        for _ in range(self.int16()):
            kind = self.byte()
            if kind == "t":
                length = self.int32()
                values.append(self.data[self.pos : self.pos + length].decode())
                self.pos += length
            else:  # "n" null, "u" unchanged TOASTed value
                values.append(None)
        return values


def decode(messages: list[bytes]) -> list[Change]:
    relations: dict[int, str] = {}
    changes: list[Change] = []
    for message in messages:
        r = _Reader(message)
        kind = r.byte()
        if kind == "R":
            relid = r.int32()
            relations[relid] = f"{r.string()}.{r.string()}"
        elif kind == "I":
            relation = relations[r.int32()]
            assert r.byte() == "N"
            changes.append(Change("insert", relation, r.tuple_data()))
        elif kind == "U":
            relation = relations[r.int32()]
            change = Change("update", relation)
            marker = r.byte()
            if marker in ("K", "O"):
                change.old_kind, change.old = marker, r.tuple_data()
                marker = r.byte()
            assert marker == "N"
            change.new = r.tuple_data()
            changes.append(change)
        elif kind == "D":
            relation = relations[r.int32()]
            marker = r.byte()
            changes.append(Change("delete", relation, old_kind=marker, old=r.tuple_data()))
    return changes


@dataclass
class Slot:
    conn: psycopg.Connection[TupleRow]
    name: str

    def changes(self) -> list[Change]:
        """Consume what the slot holds, as pgoutput sends it for the Realtime publication."""
        rows = self.conn.execute(
            "select data from pg_logical_slot_get_binary_changes(%s, null, null,"
            " 'proto_version', '1', 'publication_names', %s)",
            (self.name, PUBLICATION),
        ).fetchall()
        return decode([bytes(row[0]) for row in rows])


@pytest.fixture
def slot() -> Iterator[Slot]:
    """A temporary pgoutput slot, created before the changes it is to see."""
    name = f"lift_realtime_test_{secrets.token_hex(4)}"
    conn = connect(database_url())
    try:
        conn.execute("select pg_create_logical_replication_slot(%s, 'pgoutput', true)", (name,))
        yield Slot(conn, name)
    finally:
        try:
            conn.execute(
                "select pg_drop_replication_slot(slot_name) from pg_replication_slots"
                " where slot_name = %s",
                (name,),
            )
        finally:
            conn.close()


@pytest.fixture
def user() -> Iterator[uuid.UUID]:
    uid = uuid.uuid4()
    with connect(database_url()) as conn:
        conn.execute(
            "insert into auth.users (id, aud, role, email, created_at)"
            " values (%s, 'authenticated', 'authenticated', %s, now())",
            (uid, f"{uid}@realtime.test"),
        )
    yield uid
    with connect(database_url()) as conn:
        conn.execute("delete from auth.users where id = %s", (uid,))


def act_as(conn: psycopg.Connection[TupleRow], uid: uuid.UUID) -> None:
    """What PostgREST does at the start of a request's transaction."""
    claims = json.dumps({"sub": str(uid), "role": "authenticated"})
    conn.execute(
        "select set_config('role', 'authenticated', true),"
        " set_config('request.jwt.claims', %s, true)",
        (claims,),
    )


def test_a_session_update_is_published_for_realtime(slot: Slot, user: uuid.UUID) -> None:
    with connect(database_url(), autocommit=False) as conn:
        act_as(conn, user)
        session_id = conn.execute(
            "insert into public.sessions (prompt, current_ir) values ('realtime prompt', '{}')"
            " returning id"
        ).fetchone()
        assert session_id is not None
        conn.commit()
        act_as(conn, user)
        conn.execute(
            "update public.sessions set status = 'finalized' where id = %s", (session_id[0],)
        )
        conn.execute(
            'insert into public.user_preferences (settings) values (\'{"theme": "dark"}\')'
        )
        conn.commit()

    changes = slot.changes()
    sid = str(session_id[0])
    updates = [c for c in changes if c.kind == "update" and c.relation == "public.sessions"]
    assert len(updates) == 1, changes
    assert sid in updates[0].new
    assert "finalized" in updates[0].new
    # The insert of the session and its first history row are published too.
    assert {(c.kind, c.relation) for c in changes if sid in c.new} >= {
        ("insert", "public.sessions"),
        ("insert", "public.session_history"),
    }
    # user_preferences is not in the publication: its insert is not streamed.
    assert all(c.relation != "public.user_preferences" for c in changes), changes


def test_a_delete_carries_only_the_primary_key(slot: Slot, user: uuid.UUID) -> None:
    with connect(database_url(), autocommit=False) as conn:
        act_as(conn, user)
        row = conn.execute(
            "insert into public.sessions (prompt, current_ir)"
            " values ('secret prompt', '{\"secret\": true}') returning id"
        ).fetchone()
        assert row is not None
        conn.execute("select public.delete_session(%s)", (row[0],))
        conn.commit()

    deletes = [c for c in slot.changes() if c.kind == "delete" and c.relation == "public.sessions"]
    assert len(deletes) == 1
    assert deletes[0].old_kind == "K"  # key columns only, not the whole old row ("O")
    assert [v for v in deletes[0].old if v is not None] == [str(row[0])]
