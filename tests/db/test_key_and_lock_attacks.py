"""The ON CONFLICT and LOCK attacks, as a client with a user token would run them.

Each attack is run the two ways a client reaches the database as `authenticated`: logged in as
`authenticator` with `set role` (PostgREST's way) and as `postgres` with `set local role` (the
store's way). A second connection, the victim's, then shows what the attack would have cost her:
her row locked, her reads of the table stopped. lock_timeout only bounds how long the victim
waits for a lock the attack must not hold; nothing here measures time.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from lift_db.local.project import find_project
from lift_db.local.target import connect, resolve_target
from tests.conftest import ROOT


def database_url() -> str:
    return resolve_target(find_project(ROOT)).url


def authenticator_url() -> str:
    parts = urlsplit(database_url())
    host = parts.hostname or "127.0.0.1"
    netloc = f"authenticator:postgres@{host}:{parts.port or 5432}"
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass
class Scene:
    alice: uuid.UUID
    victor: uuid.UUID  # a former viewer of Alice's session
    mallory: uuid.UUID
    session: uuid.UUID
    comment: uuid.UUID


@pytest.fixture
def scene() -> Iterator[Scene]:
    users = [uuid.uuid4() for _ in range(3)]
    with connect(database_url()) as conn:
        for uid in users:
            conn.execute(
                "insert into auth.users (id, aud, role, email, raw_app_meta_data, created_at)"
                " values (%s, 'authenticated', 'authenticated', %s,"
                ' \'{"provider": "email"}\', now())',
                (uid, f"{uid}@attack.test"),
            )
        alice, victor, mallory = users
        row = conn.execute(
            "insert into public.sessions (user_id, prompt, current_ir)"
            " values (%s, 'alice secret', '{\"spec\": \"hidden\"}') returning id",
            (alice,),
        ).fetchone()
        assert row is not None
        comment = conn.execute(
            "insert into public.comments (session_id, author_id, body)"
            " values (%s, %s, 'alice: hidden note') returning id",
            (row[0], alice),
        ).fetchone()
        assert comment is not None
        # Victor was a viewer, learnt the ids, and was unshared.
        conn.execute(
            "insert into public.session_shares (session_id, user_id) values (%s, %s)",
            (row[0], victor),
        )
        conn.execute("delete from public.session_shares where user_id = %s", (victor,))
    yield Scene(alice, victor, mallory, row[0], comment[0])
    with connect(database_url()) as conn:
        conn.execute("delete from auth.users where id = any(%s)", (users,))


@pytest.fixture(params=["authenticator", "postgres"])
def attacker_login(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def attacker(login: str, user: uuid.UUID) -> psycopg.Connection[Any]:
    """An open transaction acting as `user` under RLS, reached the way `login` reaches it."""
    conn = connect(authenticator_url() if login == "authenticator" else database_url(),
                   autocommit=False)  # fmt: skip
    claims = json.dumps({"sub": str(user), "role": "authenticated"})
    if login == "authenticator":
        conn.execute("set role authenticated")
    else:
        conn.execute("set local role authenticated")
    conn.execute("select set_config('request.jwt.claims', %s, true)", (claims,))
    return conn


def victim_locks_row(session: uuid.UUID) -> str:
    """What the owner gets trying to lock her own session while the attacker's transaction runs."""
    with connect(database_url()) as conn:
        try:
            conn.execute(
                "select 1 from public.sessions where id = %s for update nowait", (session,)
            )
        except psycopg.errors.LockNotAvailable:
            return "locked by someone else"
    return "free"


def victim_uses_table(session: uuid.UUID) -> str:
    """Whether the owner can still read the table and write her session."""
    with connect(database_url()) as conn:
        conn.execute("set lock_timeout = '500ms'")
        try:
            conn.execute("select count(*) from public.sessions").fetchone()
            conn.execute("update public.sessions set status = status where id = %s", (session,))
        except psycopg.errors.LockNotAvailable:
            return "blocked"
    return "read and wrote"


LEAK = (
    "insert into public.sessions (id, prompt) values (%s, 'x')"
    " on conflict (id) do update set prompt = excluded.prompt"
    " where set_config('x.leak', row_to_json(sessions.*)::text, true) is null"
)
LOCK_ROW = (
    "insert into public.sessions (id, prompt) values (%s, 'x')"
    " on conflict (id) do update set prompt = excluded.prompt where false"
)
COMMENT_LEAK = (
    "insert into public.comments (id, session_id, body)"
    " values (%s, (select id from public.sessions limit 1), 'x')"
    " on conflict (id) do update set body = excluded.body"
    " where set_config('x.leak', row_to_json(comments.*)::text, true) is null"
)


def test_a_stranger_cannot_copy_a_hidden_session_into_a_setting(
    scene: Scene, attacker_login: str
) -> None:
    conn = attacker(attacker_login, scene.mallory)
    try:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(LEAK, (scene.session,))
        conn.rollback()
        leaked = conn.execute("select current_setting('x.leak', true)").fetchone()
        assert leaked is not None
        assert not leaked[0]
    finally:
        conn.close()


def test_a_stranger_cannot_lock_a_hidden_session(scene: Scene, attacker_login: str) -> None:
    conn = attacker(attacker_login, scene.mallory)
    try:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(LOCK_ROW, (scene.session,))
        assert victim_locks_row(scene.session) == "free"
    finally:
        conn.close()


def test_a_former_viewer_reads_neither_the_session_nor_its_comments(
    scene: Scene, attacker_login: str
) -> None:
    for statement, target in ((LEAK, scene.session), (COMMENT_LEAK, scene.comment)):
        conn = attacker(attacker_login, scene.victor)
        try:
            # A session of his own, for the comment to name (comments need a readable one).
            conn.execute("insert into public.sessions (prompt) values ('victor own')")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement, (target,))
            conn.rollback()
            leaked = conn.execute("select current_setting('x.leak', true)").fetchone()
            assert leaked is not None
            assert not leaked[0]
        finally:
            conn.close()


@pytest.mark.parametrize("mode", ["share", "exclusive", "access exclusive"])
def test_no_user_can_lock_a_table_against_everyone_else(
    scene: Scene, attacker_login: str, mode: str
) -> None:
    conn = attacker(attacker_login, scene.mallory)
    try:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"lock table public.sessions in {mode} mode nowait")
        assert victim_uses_table(scene.session) == "read and wrote"
    finally:
        conn.close()
