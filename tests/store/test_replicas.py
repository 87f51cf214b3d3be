"""The store with a real streaming standby as read replica: read-your-writes, fallbacks, RLS.

The standby (tests/conftest.py `standby`) is a pg_basebackup copy of the local server that
replays its WAL. Replay is paused with pg_wal_replay_pause() to make it lag on demand. Every test
of a store runs on the sync store and on the async one (reached through blocking calls).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import cast

import psycopg
import pytest

from lift_db.local.replica import LocalReplica
from lift_db.store import (
    EMBEDDING_DIMENSIONS,
    AsyncPostgresSessionStore,
    NewSession,
    PostgresSessionStore,
    StoreError,
    make_async_store,
    make_store,
)
from tests.store.conftest import Blocking, EventLoopThread, database_url

WAIT_S = 1.0


def vector(n: int) -> list[float]:
    v = [0.0] * EMBEDDING_DIMENSIONS
    v[n % EMBEDDING_DIMENSIONS] = 1.0
    return v


OpenStore = Callable[[float], PostgresSessionStore]


@pytest.fixture(params=["sync", "async"])
def open_store(request: pytest.FixtureRequest, standby: LocalReplica) -> Iterator[OpenStore]:
    """Opens stores of one kind that read from the standby (the async one behind blocking
    calls, with the sync store's interface); all closed afterwards."""
    closing: list[Callable[[], None]] = []

    def open_(wait: float) -> PostgresSessionStore:
        if request.param == "sync":
            store = PostgresSessionStore(
                database_url(), max_size=4, read_urls=[standby.url()], replica_wait=wait
            )
            closing.append(store.close)
            return store
        loop: EventLoopThread = request.getfixturevalue("event_loop_thread")
        opened = loop.run(
            AsyncPostgresSessionStore.connect(
                database_url(), max_size=4, read_urls=[standby.url()], replica_wait=wait
            )
        )
        closing.append(lambda: loop.run(opened.close()))
        return cast(PostgresSessionStore, Blocking(opened, loop))

    yield open_
    for close in reversed(closing):
        close()


@pytest.fixture
def replicated(open_store: OpenStore) -> PostgresSessionStore:
    return open_store(WAIT_S)


@pytest.fixture
def paused(standby: LocalReplica) -> Iterator[None]:
    with psycopg.connect(standby.admin_url(), autocommit=True) as conn:
        conn.execute("select pg_wal_replay_pause()")
        try:
            yield
        finally:
            conn.execute("select pg_wal_replay_resume()")


def test_each_write_is_seen_by_the_read_right_after_it_served_by_the_replica(
    replicated: PostgresSessionStore, auth_users: Callable[[], uuid.UUID]
) -> None:
    alice = replicated.for_user(auth_users())
    assert replicated.replicas is not None
    made = []
    for n in range(20):
        session = alice.create(NewSession(prompt=f"p{n}", current_ir={"n": n}))
        made.append(session.id)
        assert [s.id for s in alice.list_all()] == made[::-1]
        alice.record_event("probe", session_id=session.id)
        assert alice.events(session_id=session.id)[0].session_id == session.id
        session = alice.update(session.with_ir({"n": n, "again": True}))
        alice.set_embedding(session.id, vector(n), model="m", ir_version=session.ir_version)
        assert [h.version for h in alice.history(session.id)] == [1, 2]
        assert alice.search_similar(vector(n), limit=1)[0].session_id == session.id
    counts = replicated.replicas.counts
    # The replica served (nearly) every read; the test proves nothing if the primary did.
    assert counts.replica >= 60
    assert counts.primary_unreachable == 0


def test_with_replay_paused_reads_fall_back_to_the_primary_and_nothing_is_stale(
    replicated: PostgresSessionStore,
    auth_users: Callable[[], uuid.UUID],
    paused: None,
) -> None:
    alice, bob = replicated.for_user(auth_users()), replicated.for_user(auth_users())
    assert replicated.replicas is not None
    counts = replicated.replicas.counts
    session = alice.create(NewSession(prompt="while paused", current_ir={"v": 1}))
    before = counts.primary_lagging
    assert [s.id for s in alice.list_all()] == [session.id]
    session = alice.update(session.with_ir({"v": 2}))
    assert [(h.version, h.ir_snapshot) for h in alice.history(session.id)] == [
        (1, {"v": 1}),
        (2, {"v": 2}),
    ]
    assert alice.list_active()[0].current_ir == {"v": 2}
    assert counts.primary_lagging == before + 3
    # Bob wrote nothing: his reads may be served by the lagging replica.
    served = counts.replica
    assert bob.list_all() == []
    assert counts.replica == served + 1


def test_a_write_position_carries_read_your_writes_to_another_process(
    replicated: PostgresSessionStore,
    open_store: OpenStore,
    auth_users: Callable[[], uuid.UUID],
    paused: None,
) -> None:
    uid = auth_users()
    session = replicated.for_user(uid).create(NewSession(prompt="written here"))
    position = replicated.for_user(uid).write_position()
    assert position is not None
    other = open_store(0.05)
    assert other.for_user(uid).list_all() == []  # the paused replica: slightly stale
    assert [s.id for s in other.for_user(uid, read_after=position).list_all()] == [session.id]


def test_rls_holds_on_the_replica(
    replicated: PostgresSessionStore,
    standby: LocalReplica,
    auth_users: Callable[[], uuid.UUID],
) -> None:
    alice_id, bob_id = auth_users(), auth_users()
    alice, bob = replicated.for_user(alice_id), replicated.for_user(bob_id)
    session = alice.create(NewSession(prompt="alice's", current_ir={"secret": 1}))
    alice.set_embedding(session.id, vector(1), model="m", ir_version=1)
    alice.record_event("secret", session_id=session.id)
    assert alice.list_all() != []  # replayed now
    assert replicated.replicas is not None
    served = replicated.replicas.counts.replica
    assert bob.list_all() == []
    assert bob.list_shared_with_me() == []
    assert bob.search_similar(vector(1)) == []
    assert bob.events() == []
    with pytest.raises(LookupError):
        bob.history(session.id)
    assert replicated.replicas.counts.replica == served + 5
    # The isolation matrix, straight on the standby, as PostgREST would act there.
    matrix = {
        "anon": None,
        "authenticated-alice": [str(session.id)],
        "authenticated-bob": [],
    }
    with psycopg.connect(standby.url(), autocommit=True) as conn:
        for who, expected in matrix.items():
            role, _, name = who.partition("-")
            claims = {"sub": str(alice_id if name == "alice" else bob_id), "role": role}
            with conn.transaction(force_rollback=True):
                conn.execute(
                    "select set_config('role', %s, true),"
                    " set_config('request.jwt.claims', %s, true)",
                    (role, json.dumps(claims)),
                )
                if expected is None:
                    with pytest.raises(psycopg.errors.InsufficientPrivilege):
                        conn.execute("select id from public.sessions")
                    continue
                rows = conn.execute(
                    "select id::text from public.sessions where id = %s", (session.id,)
                ).fetchall()
                assert [r[0] for r in rows] == expected, who
                for table in ("analytics_events", "session_history", "session_embeddings"):
                    count = conn.execute(
                        f"select count(*) from public.{table} where session_id = %s",  # noqa: S608
                        (session.id,),
                    ).fetchone()
                    assert count == (len(expected),), (who, table)
        with conn.transaction(force_rollback=True):
            conn.execute("select set_config('role', 'service_role', true)")
            count = conn.execute(
                "select count(*) from public.sessions where id = %s", (session.id,)
            ).fetchone()
            assert count == (1,)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute(
                "insert into public.sessions (user_id, prompt) values (%s, 'x')", (bob_id,)
            )


def test_with_the_replica_stopped_reads_go_to_the_primary_without_error(
    replicated: PostgresSessionStore,
    standby: LocalReplica,
    auth_users: Callable[[], uuid.UUID],
) -> None:
    alice, bob = replicated.for_user(auth_users()), replicated.for_user(auth_users())
    session = alice.create(NewSession(prompt="before"))
    assert [s.id for s in alice.list_all()] == [session.id]
    assert bob.list_all() == []  # pooled replica connections exist now
    assert replicated.replicas is not None
    counts = replicated.replicas.counts
    standby.stop()
    try:
        for n in range(5):
            later = alice.create(NewSession(prompt=f"after {n}"))
            assert alice.list_all()[0].id == later.id
            assert bob.list_all() == []
            assert alice.events() == []
        assert counts.primary_unreachable >= 15
    finally:
        standby.start(out=None)


def test_make_store_takes_read_replicas_from_the_environment(standby: LocalReplica) -> None:
    env = {
        "DATABASE_URL": database_url(),
        "DATABASE_READ_URLS": f" {standby.url()} ,",
        "LIFT_DB_REPLICA_WAIT_MS": "250",
    }
    store = make_store(env)
    try:
        assert isinstance(store, PostgresSessionStore)
        assert store.replicas is not None
        assert store.replicas.wait == 0.25
    finally:
        store.close()
    with pytest.raises(StoreError, match="LIFT_DB_REPLICA_WAIT_MS"):
        make_store({**env, "LIFT_DB_REPLICA_WAIT_MS": "soon"})


def test_make_async_store_takes_read_replicas_from_the_environment(
    standby: LocalReplica,
    event_loop_thread: EventLoopThread,
    auth_users: Callable[[], uuid.UUID],
) -> None:
    env = {
        "DATABASE_URL": database_url(),
        "DATABASE_READ_URLS": f" {standby.url()} ,",
        "LIFT_DB_REPLICA_WAIT_MS": "250",
    }
    store = event_loop_thread.run(make_async_store(env))
    try:
        assert store.replicas is not None
        assert store.replicas.wait == 0.25
        event_loop_thread.run(store.for_user(auth_users()).list_all())
        assert store.replicas.counts.replica == 1
    finally:
        event_loop_thread.run(store.close())
    with pytest.raises(StoreError, match="LIFT_DB_REPLICA_WAIT_MS"):
        event_loop_thread.run(make_async_store({**env, "LIFT_DB_REPLICA_WAIT_MS": "soon"}))
