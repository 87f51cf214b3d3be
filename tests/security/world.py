"""The people and rows the red team's attacks aim at."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from lift_db.local.target import connect
from lift_db.store import EMBEDDING_DIMENSIONS
from tests.reliability.support import Conn, as_role, create_auth_user, delete_auth_users


@dataclass(frozen=True)
class World:
    """An attacker, a victim and a bystander who each own a row in every table.

    The victim shares one session with the attacker as viewer (a row the attacker sees but may
    not change) and another with the bystander (a row the attacker cannot see at all)."""

    url: str
    attacker: uuid.UUID
    victim: uuid.UUID
    bystander: uuid.UUID
    attacker_session: uuid.UUID
    victim_hidden_session: uuid.UUID
    victim_shared_session: uuid.UUID


def unit_vector(axis: int) -> str:
    parts = ["0"] * EMBEDDING_DIMENSIONS
    parts[axis] = "1"
    return "[" + ",".join(parts) + "]"


def _one(conn: Conn, statement: str, params: tuple[object, ...] = ()) -> uuid.UUID:
    row = conn.execute(statement, params).fetchone()
    assert row is not None
    value = row[0]
    assert isinstance(value, uuid.UUID)
    return value


def _own_rows(conn: Conn, user: uuid.UUID, label: str, grantee: uuid.UUID) -> list[uuid.UUID]:
    """Through the API, as the user: two sessions with IR history, shares, comments, a
    repository and its favourite, preferences, an analytics event and an embedding."""
    sessions = []
    with as_role(conn, "authenticated", user):
        for n in range(2):
            sid = _one(
                conn,
                "insert into public.sessions (prompt, current_ir, metadata)"
                " values (%s, '{\"v\": 1}', '{\"holes\": []}') returning id",
                (f"{label} session {n}",),
            )
            conn.execute("select public.update_session_ir(%s, '{\"v\": 2}')", (sid,))
            conn.execute(
                "insert into public.comments (session_id, body) values (%s, %s)",
                (sid, f"{label} comment {n}"),
            )
            conn.execute(
                "insert into public.analytics_events (session_id, event_type, event_data,"
                " latency_ms) values (%s, 'red_team.probe', '{\"prompt_type\": \"x\"}', 5)",
                (sid,),
            )
            conn.execute(
                "insert into public.session_embeddings (session_id, embedding, model, ir_version)"
                " values (%s, %s::extensions.vector, 'red-team', 2)",
                (sid, unit_vector(n)),
            )
            sessions.append(sid)
        conn.execute(
            "insert into public.session_shares (session_id, user_id, role) values (%s, %s, %s)",
            (sessions[0], grantee, "viewer"),
        )
        repo = _one(
            conn,
            "insert into public.repositories (owner, name, metadata)"
            " values ('red-team', %s, '{\"stars\": 1}') returning id",
            (f"{label}-repo",),
        )
        conn.execute(
            "insert into public.favourite_repositories (repository_id) values (%s)", (repo,)
        )
        conn.execute('insert into public.user_preferences (settings) values (\'{"theme": "x"}\')')
        conn.execute("update public.users set display_name = %s where id = %s", (label, user))
    return sessions


@contextmanager
def build_world(url: str) -> Iterator[World]:
    """The attacker, the victim and the bystander with their rows in the database at `url`;
    deleted, with everything they own, afterwards."""
    with connect(url) as conn:
        attacker = create_auth_user(conn, "red-team-attacker")
        victim = create_auth_user(conn, "red-team-victim")
        bystander = create_auth_user(conn, "red-team-bystander")
        users = [attacker, victim, bystander]
        try:
            # The victim's first session is shared with the attacker (seen, not writable), the
            # second with the bystander (hidden from the attacker); the attacker's own first
            # session with the bystander.
            shared, hidden = _own_rows(conn, victim, "victim", attacker)
            with as_role(conn, "authenticated", victim):
                conn.execute(
                    "insert into public.session_shares (session_id, user_id, role)"
                    " values (%s, %s, 'editor')",
                    (hidden, bystander),
                )
            mine = _own_rows(conn, attacker, "attacker", bystander)
            _own_rows(conn, bystander, "bystander", victim)
            yield World(url, attacker, victim, bystander, mine[0], hidden, shared)
        finally:
            delete_auth_users(conn, users)
