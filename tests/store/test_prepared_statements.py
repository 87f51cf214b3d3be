"""Prepared statements (PoolSettings.prepare): on a direct connection the store prepares what it
sends and PostgreSQL reuses one generic plan for every user; through a transaction pooler it
prepares nothing. A plan made for one caller must never carry that caller's rows to the next:
the policies' `(select auth.uid())` is evaluated when the plan runs, not when it is made.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from lift_db.local.project import find_project
from lift_db.migrate import commands
from lift_db.store import (
    AsyncPostgresSessionStore,
    NewSession,
    NotFoundError,
    PoolSettings,
    PostgresSessionStore,
)
from lift_db.store.postgres import queries as q
from lift_db.store.postgres._base import Operation, Steps, every
from lift_db.store.postgres.sqlstate import is_retryable, is_stale_prepared
from lift_db.store.postgres.store import PostgresSessionView
from tests.conftest import ROOT, ScratchFactory
from tests.store.conftest import database_url

POOL = 4
# Past PostgreSQL's five custom plans, after which a prepared statement runs its generic plan.
ROUNDS = 8
PREPARED: Any = (
    "select statement, generic_plans, custom_plans from pg_catalog.pg_prepared_statements"
)


def prepared(view: PostgresSessionView) -> dict[str, tuple[int, int]]:
    """The statements prepared on the connection the view's next call gets (pool of one)."""

    def steps() -> Steps[dict[str, tuple[int, int]]]:
        rows = yield every(PREPARED)
        return {" ".join(r[0].split()): (r[1], r[2]) for r in rows}

    return view._run(Operation("prepared", steps))


def _plans(seen: dict[str, tuple[int, int]], statement: str) -> tuple[int, int]:
    """The plan counts of `statement`, as the server shows it: placeholders numbered."""
    parts = " ".join(statement.split()).split("%s")
    numbered = parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], 1))
    return seen.get(numbered, (0, 0))


@pytest.fixture
def single(request: pytest.FixtureRequest) -> Iterator[PostgresSessionStore]:
    prepare = getattr(request, "param", "auto")
    store = PostgresSessionStore(
        database_url(), settings=PoolSettings(min_size=1, max_size=1, prepare=prepare)
    )
    yield store
    store.close()


def test_one_generic_plan_serves_every_user_and_each_sees_only_their_own_rows(
    single: PostgresSessionStore, auth_users: Callable[[], uuid.UUID]
) -> None:
    alice, bob = auth_users(), auth_users()
    own = {
        user: [
            single.for_user(user).create(
                NewSession(user_id=user, prompt=f"p{n}", current_ir={"n": n})
            )
            for n in (1, 2)
        ]
        for user in (alice, bob)
    }
    for _ in range(ROUNDS):
        for me, other in ((alice, bob), (bob, alice)):
            view = single.for_user(me)
            assert {s.id for s in view.list_active()} == {s.id for s in own[me]}
            assert {s.id for s in view.list_all()} == {s.id for s in own[me]}
            for mine, theirs in zip(own[me], own[other], strict=True):
                got = view.get(mine.id)
                assert got is not None
                assert got.user_id == me
                assert view.get(theirs.id) is None
                assert [h.session_id for h in view.history(mine.id)] == [mine.id]
    seen = prepared(single.for_user(alice))
    # (Whether history's plan turns generic depends on the table's statistics: not asserted.)
    for statement in (q.GET_SESSION, q.LIST_OWN_SESSIONS_BY_STATUS, q.LIST_OWN_SESSIONS):
        generic, custom = _plans(seen, statement)
        assert generic > 0, (statement, generic, custom)
    # A refused call rolls back, and psycopg then forgets its prepared statements: the next
    # calls prepare them again and still see their own caller's rows only.
    for me, other in ((alice, bob), (bob, alice)):
        view = single.for_user(me)
        with pytest.raises(NotFoundError):
            view.history(own[other][0].id)
        assert view.get(own[other][0].id) is None
        assert {s.id for s in view.list_active()} == {s.id for s in own[me]}


@pytest.mark.parametrize("single", ["never"], indirect=True)
def test_prepare_never_prepares_nothing_on_a_direct_connection(
    single: PostgresSessionStore, auth_users: Callable[[], uuid.UUID]
) -> None:
    alice = auth_users()
    view = single.for_user(alice)
    made = view.create(NewSession(user_id=alice, prompt="p"))
    for _ in range(ROUNDS):
        assert view.get(made.id) is not None
        view.list_active()
    assert prepared(view) == {}


def test_auto_prepares_on_a_direct_connection_and_not_through_the_pooler(
    pooler_url: str, auth_users: Callable[[], uuid.UUID]
) -> None:
    alice = auth_users()
    for url, expected in ((database_url(), 0), (pooler_url, None)):
        with PostgresSessionStore(url, min_size=1, max_size=1) as store:
            view = store.for_user(alice)
            view.list_active()
            with store._pool.connection() as conn:
                assert conn.prepare_threshold == expected, url
    with (
        PostgresSessionStore(
            pooler_url, settings=PoolSettings(min_size=1, max_size=1, prepare="always")
        ) as store,
        store._pool.connection() as conn,
    ):
        assert conn.prepare_threshold == 0

    async def async_threshold(url: str) -> int | None:
        store = await AsyncPostgresSessionStore.connect(url, min_size=1, max_size=1)
        try:
            async with store._pool.connection() as conn:
                return conn.prepare_threshold
        finally:
            await store.close()

    assert asyncio.run(async_threshold(database_url())) == 0
    assert asyncio.run(async_threshold(pooler_url)) is None


def test_a_statement_whose_result_type_changed_is_prepared_again(
    scratch_db: ScratchFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A migration that changes a column's type under a running app: every pooled connection
    that prepared a statement reading it fails once with 'cached plan must not change result
    type'; the store runs the call again on the next connection until one has prepared it
    afresh, and the caller never sees it."""
    target = scratch_db()
    commands.migrate(find_project(ROOT), target, lambda _line: None)
    user = uuid.uuid4()
    with target.connect(admin=True) as conn:
        conn.execute(
            "insert into auth.users (id, aud, role, email, created_at)"
            " values (%s, 'authenticated', 'authenticated', 'a@prepared.test', now())",
            (user,),
        )
    settings = PoolSettings(min_size=POOL, max_size=POOL, prepare="always")
    with PostgresSessionStore(target.url, settings=settings) as store:
        view = store.for_user(user)
        made = view.create(NewSession(user_id=user, prompt="before", current_ir={"n": 0}))
        # The pool hands out its oldest idle connection: these calls prepare on every one.
        for _ in range(2 * POOL):
            assert view.get(made.id) is not None
        with target.connect(admin=True) as conn:
            conn.execute("alter table public.sessions alter column prompt type varchar(100000)")
        caplog.set_level(logging.INFO, logger="lift_db.store")
        for _ in range(2 * POOL):
            got = view.get(made.id)
            assert got is not None
            assert got.prompt == "before"
            assert [s.id for s in view.list_all()] == [made.id]
        assert got is not None
        updated = view.update(got.with_ir({"n": 1}))
        assert updated.ir_version == 2
    again = [r for r in caplog.records if "predates a schema change" in r.getMessage()]
    # Every connection held the stale statement: the first call after the change found all of
    # them, one after another, and was answered by the first connection that had forgotten it.
    assert len(again) == POOL, [r.getMessage() for r in again]


def test_only_the_stale_prepared_statement_error_of_its_class_is_recognised(
    scratch_db: ScratchFactory,
) -> None:
    target = scratch_db()
    with (
        psycopg.connect(target.url, autocommit=True) as ddl,
        psycopg.connect(target.url, autocommit=True, prepare_threshold=0) as conn,
    ):
        ddl.execute("create table public.t (v int)")
        conn.execute("select * from public.t where v = %s", (1,))
        # From another connection, as a migration would: psycopg forgets its own prepared
        # statements after DDL it sends itself.
        ddl.execute("alter table public.t alter column v type bigint")
        with pytest.raises(psycopg.errors.FeatureNotSupported) as stale:
            conn.execute("select * from public.t where v = %s", (1,))
        with pytest.raises(psycopg.errors.FeatureNotSupported) as other:
            conn.execute("create table public.u (v int check (v in (select 1)))")
    assert is_stale_prepared(stale.value)
    assert not is_stale_prepared(other.value)
    # Not a collision: it is retried once per connection, not up to the collision attempts.
    assert not is_retryable(stale.value)
