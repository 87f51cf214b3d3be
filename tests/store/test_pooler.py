"""The store behind PgBouncer in transaction mode: what one request sets is never another's.

A transaction-mode pooler gives each transaction whichever server connection is free, so any
state a client leaves in a session (a role, claims, a setting, a prepared statement) reaches the
next client. The store sets everything with `set_config(…, true)` and prepares nothing.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest

from lift_db.store import NewSession, PostgresSessionStore
from tests.store.conftest import Backend

CLIENTS = 16
ROUNDS = 12
PROBES = 200
BASELINE = (
    "select current_user::text, current_setting('role'),"
    " coalesce(current_setting('request.jwt.claims', true), '')"
    " || coalesce(current_setting('request.jwt.claim.sub', true), ''),"
    " coalesce(current_setting('lift.change_description', true), ''),"
    " current_setting('statement_timeout'), pg_catalog.pg_backend_pid()"
)


def _state(conn: psycopg.Connection[tuple[object, ...]]) -> tuple[object, ...]:
    with conn.transaction():
        row = conn.execute(BASELINE).fetchone()
    assert row is not None
    return row


@pytest.fixture
def pooled_store(pooler_url: str) -> Iterator[PostgresSessionStore]:
    store = PostgresSessionStore(pooler_url, min_size=CLIENTS, max_size=CLIENTS)
    yield store
    store.close()


def test_interleaved_requests_never_see_another_requests_role_claims_or_settings(
    pooled_store: PostgresSessionStore,
    pooler_url: str,
    auth_users: Callable[[], uuid.UUID],
) -> None:
    users = [auth_users() for _ in range(8)]
    with psycopg.connect(pooler_url, autocommit=True, prepare_threshold=None) as conn:
        clean = _state(conn)[:5]
    assert clean[:2] == ("postgres", "none")
    errors: list[str] = []
    backends: set[object] = set()
    probes_done = 0
    stop = threading.Event()

    def client(n: int) -> None:
        for i in range(ROUNDS):
            uid = users[(n + i) % len(users)]
            me = pooled_store.for_user(uid)
            try:
                made = me.create(
                    NewSession(
                        prompt=f"{uid} {n} {i}", current_ir={"n": n}, change_description=f"{uid}"
                    )
                )
                [entry] = me.history(made.id)
                event = me.record_event("probe", session_id=made.id)
                listed = me.list_all(limit=20)
            except Exception as exc:
                errors.append(f"client {n}: {type(exc).__name__}: {exc}")
                return
            if made.user_id != uid or event.user_id != uid or entry.author_id != uid:
                errors.append(f"client {n} acted as another user than {uid}")
            if entry.change_description != str(uid):
                errors.append(f"client {n} wrote another request's change description")
            if any(s.user_id != uid for s in listed):
                errors.append(f"client {n} listed another user's session")

    def probe() -> None:
        nonlocal probes_done
        with psycopg.connect(pooler_url, autocommit=True, prepare_threshold=None) as conn:
            while not stop.is_set() or probes_done < PROBES:
                state = _state(conn)
                backends.add(state[5])
                probes_done += 1
                if state[:5] != clean:
                    errors.append(f"a new transaction found {state[:5]}, not {clean}")
                    return

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    probers = [threading.Thread(target=probe) for _ in range(2)]
    for t in threads + probers:
        t.start()
    for t in threads:
        t.join(timeout=300)
    stop.set()
    for t in probers:
        t.join(timeout=300)
    assert errors == []
    assert probes_done >= PROBES
    # The probes shared the few server connections with the store's sixteen clients.
    assert 1 < len(backends) <= 4


def test_what_a_session_level_setting_leaves_reaches_the_next_client(pooler_url: str) -> None:
    """The hazard the store avoids, shown: `set_config(…, false)` outlives its transaction and
    the pooler hands it to whoever comes next (so the probe above can see a leak)."""
    with (
        psycopg.connect(pooler_url, autocommit=True, prepare_threshold=None) as a,
        psycopg.connect(pooler_url, autocommit=True, prepare_threshold=None) as b,
    ):
        claims = '{"sub": "leaked"}'
        a.execute("select set_config('request.jwt.claims', %s, false)", (claims,))
        try:
            row = b.execute("select current_setting('request.jwt.claims', true)").fetchone()
            assert row is not None
            assert row[0] == claims
        finally:
            a.execute("reset all")


def test_prepared_statements_break_behind_the_pooler_and_the_store_prepares_none(
    pooler_url: str, backend: Backend
) -> None:
    def interleave() -> None:
        with (
            psycopg.connect(pooler_url, autocommit=True, prepare_threshold=0) as a,
            psycopg.connect(pooler_url, autocommit=True, prepare_threshold=0) as b,
        ):
            for i in range(3):
                a.execute("select %s::int", (i,))
                b.execute("select %s::int", (i,))

    with pytest.raises(psycopg.errors.DuplicatePreparedStatement):
        interleave()
    if backend.name in ("pooler", "async-pooler"):
        alice = backend.factory.for_user(backend.new_user())
        for _ in range(5):  # past psycopg's default threshold (5) for preparing
            alice.list_all()
