"""Red team: the people and rows the attacks aim at, and the report printed at the end."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from lift_db.project import find_project
from lift_db.store.models import EMBEDDING_DIMENSIONS
from lift_db.target import connect
from tests.conftest import ROOT
from tests.reliability.support import (
    Conn,
    as_role,
    create_auth_user,
    database_url,
    delete_auth_users,
)
from tests.security import tally


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    tallies, notes = tally.snapshot()
    if not tallies:
        return
    terminalreporter.section("red team figures")
    record: dict[str, dict[str, int]] = {}
    for name in tally.CLASSES:
        t = tallies.get(name)
        if t is None:
            continue
        terminalreporter.write_line(
            f"{name}: {t.tried} attacks tried, {t.refused} refused, {len(t.succeeded)} succeeded"
        )
        record[name] = {"tried": t.tried, "refused": t.refused, "succeeded": len(t.succeeded)}
    for name, value in notes.items():
        terminalreporter.write_line(f"  {name}: {value}")
    state = find_project(ROOT).state_dir
    if state.is_dir():
        out = {
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "classes": record,
            "notes": notes,
        }
        (state / "red-team-figures.json").write_text(json.dumps(out, indent=2) + "\n")


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


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    url = database_url()
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
