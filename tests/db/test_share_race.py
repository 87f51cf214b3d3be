"""A revoked share ends access at once, however shares, unshares, reads and writes interleave.

Who may read or write a shared session is decided by the sessions policies, whose shared half
reads the caller's rows of session_shares once per statement. These tests race an owner who
shares and unshares (or promotes and demotes) against a grantee who reads (or writes the IR) as
fast as they can, each on their own connection, one transaction per request as PostgREST makes
them.

The owner announces a grant *before* sending it and a revocation *after* its commit returned.
So when the grantee's request starts and ends inside one revoked period (same announcement
before and after, a revocation), no grant can have been visible to it: any row it read, or any
IR it wrote, is a breach.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from lift_db.local.project import find_project
from lift_db.local.target import resolve_target

ROUNDS = 40
Conn = psycopg.Connection[TupleRow]


@pytest.fixture(scope="module")
def url() -> str:
    return resolve_target(find_project(Path(__file__).parent)).url


def _create_user(url: str) -> uuid.UUID:
    user_id = uuid.uuid4()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into auth.users (id, aud, role, email, raw_app_meta_data, created_at,"
            " updated_at) values (%s, 'authenticated', 'authenticated', %s, %s, now(), now())",
            (user_id, f"race-{user_id}@test.lift-sys.dev", Jsonb({"provider": "email"})),
        )
    return user_id


@dataclass(frozen=True)
class Scene:
    url: str
    owner: uuid.UUID
    grantee: uuid.UUID
    session_id: uuid.UUID


@pytest.fixture
def scene(url: str) -> Iterator[Scene]:
    owner, grantee = _create_user(url), _create_user(url)
    try:
        with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
            act_as(conn, owner)
            row = conn.execute(
                "insert into public.sessions (prompt, current_ir) values (%s, %s) returning id",
                ("Share me", Jsonb({"n": 0})),
            ).fetchone()
        assert row is not None
        yield Scene(url, owner, grantee, row[0])
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("delete from auth.users where id = any(%s)", ([owner, grantee],))


def act_as(conn: Conn, user_id: uuid.UUID) -> None:
    claims = json.dumps({"sub": str(user_id), "role": "authenticated"})
    conn.execute(
        "select set_config('role', 'authenticated', true),"
        " set_config('request.jwt.claims', %s, true)",
        (claims,),
    )


class Announcements:
    """The owner's side of the race: a counter bumped on every change, and whether the
    grantee is currently (for certain) revoked."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self.number = 0
        self.revoked = True
        self.attempts = 0

    def announce(self, revoked: bool) -> None:
        with self._lock:
            self.number += 1
            self.revoked = revoked

    def read(self) -> tuple[int, bool]:
        with self._lock:
            return self.number, self.revoked

    def attempted(self) -> None:
        with self._lock:
            self.attempts += 1
            self._lock.notify_all()

    def let_grantee_try(self, times: int = 2) -> None:
        """Wait until the grantee has made `times` more attempts (so both states are raced)."""
        with self._lock:
            target = self.attempts + times
            self._lock.wait_for(lambda: self.attempts >= target, timeout=30)


def race(
    scene: Scene,
    grant: Callable[[Conn], object],
    revoke: Callable[[Conn], object],
    attempt: Callable[[Conn], bool],
) -> tuple[int, int, list[int]]:
    """Grant and revoke ROUNDS times while the grantee attempts; returns (attempts made while
    certainly revoked, attempts that succeeded, announcement numbers of breaches)."""
    news = Announcements()
    done = threading.Event()
    errors: list[BaseException] = []
    outcome = {"revoked_attempts": 0, "successes": 0}
    breaches: list[int] = []

    def owner() -> None:
        try:
            with psycopg.connect(scene.url, autocommit=True) as conn:
                for _ in range(ROUNDS):
                    news.announce(revoked=False)  # before: the grant may be visible from now on
                    with conn.transaction():
                        act_as(conn, scene.owner)
                        grant(conn)
                    news.let_grantee_try()
                    with conn.transaction():
                        act_as(conn, scene.owner)
                        revoke(conn)
                    news.announce(revoked=True)  # after: revoked for every later statement
                    news.let_grantee_try()
        except BaseException as exc:  # reported by the test
            errors.append(exc)
        finally:
            done.set()

    def grantee() -> None:
        try:
            with psycopg.connect(scene.url, autocommit=True) as conn:
                while not done.is_set():
                    before, revoked = news.read()
                    with conn.transaction():
                        act_as(conn, scene.grantee)
                        succeeded = attempt(conn)
                    after, _ = news.read()
                    news.attempted()
                    outcome["successes"] += succeeded
                    if revoked and before == after:
                        outcome["revoked_attempts"] += 1
                        if succeeded:
                            breaches.append(before)
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=owner), threading.Thread(target=grantee)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    return outcome["revoked_attempts"], outcome["successes"], breaches


def test_an_unshared_viewer_reads_nothing_from_the_commit_on(scene: Scene) -> None:
    def share(conn: Conn) -> None:
        conn.execute(
            "insert into public.session_shares (session_id, user_id, role)"
            " values (%s, %s, 'viewer')",
            (scene.session_id, scene.grantee),
        )

    def unshare(conn: Conn) -> None:
        conn.execute(
            "select public.delete_session_share(%s, %s)", (scene.session_id, scene.grantee)
        )

    def read(conn: Conn) -> bool:
        rows = conn.execute(
            "select id from public.sessions where id = %s", (scene.session_id,)
        ).fetchall()
        return bool(rows)

    revoked_attempts, successes, breaches = race(scene, share, unshare, read)
    assert breaches == [], f"read after the unshare committed, at announcements {breaches}"
    # The race really raced: reads landed in both states.
    assert revoked_attempts > 0
    assert successes > 0


def test_a_demoted_editor_writes_nothing_from_the_commit_on(scene: Scene) -> None:
    with psycopg.connect(scene.url, autocommit=True) as conn, conn.transaction():
        act_as(conn, scene.owner)
        conn.execute(
            "insert into public.session_shares (session_id, user_id, role)"
            " values (%s, %s, 'viewer')",
            (scene.session_id, scene.grantee),
        )

    def promote(conn: Conn) -> None:
        conn.execute(
            "update public.session_shares set role = 'editor'"
            " where session_id = %s and user_id = %s",
            (scene.session_id, scene.grantee),
        )

    def demote(conn: Conn) -> None:
        conn.execute(
            "update public.session_shares set role = 'viewer'"
            " where session_id = %s and user_id = %s",
            (scene.session_id, scene.grantee),
        )

    def write(conn: Conn) -> bool:
        try:
            with conn.transaction():
                conn.execute(
                    "select public.update_session_ir(%s, %s)",
                    (scene.session_id, Jsonb({"by": "grantee"})),
                )
        except psycopg.Error as exc:
            # Not found: the session is not (or no longer) the grantee's to write.
            if exc.sqlstate != "PT404":
                raise
            return False
        return True

    revoked_attempts, successes, breaches = race(scene, promote, demote, write)
    assert breaches == [], f"IR written after the demotion committed, at announcements {breaches}"
    assert revoked_attempts > 0
    assert successes > 0
