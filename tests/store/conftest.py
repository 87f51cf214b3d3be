"""Every session store behind one fixture (in-memory, Postgres sync, Postgres async), and users
to act as. The async store runs on an event loop of its own thread; the contract tests reach it
through a blocking proxy, so one suite runs unchanged against all three."""

from __future__ import annotations

import asyncio
import inspect
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import pytest

from lift_db.local.project import find_project
from lift_db.local.target import connect, resolve_target
from lift_db.store import (
    AsyncPostgresSessionStore,
    InMemorySessionStore,
    PostgresSessionStore,
    SessionStoreFactory,
)
from tests.conftest import ROOT


def database_url() -> str:
    return resolve_target(find_project(ROOT)).url


@dataclass
class Backend:
    name: str
    factory: SessionStoreFactory
    new_user: Callable[[], uuid.UUID]


@pytest.fixture(scope="session")
def pg_factory() -> Iterator[PostgresSessionStore]:
    store = PostgresSessionStore(database_url(), max_size=10)
    yield store
    store.close()


T = TypeVar("T")


class EventLoopThread:
    """An event loop running in a thread of its own; `run` waits for a coroutine's result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


class Blocking:
    """What an async object offers, as blocking calls: `await x.f(…)` becomes `x.f(…)`."""

    def __init__(self, target: object, loop: EventLoopThread) -> None:
        self._target = target
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if inspect.iscoroutinefunction(attribute):
            return lambda *args, **kwargs: self._loop.run(attribute(*args, **kwargs))
        if name in ("for_user", "for_token", "service"):
            return lambda *args, **kwargs: Blocking(attribute(*args, **kwargs), self._loop)
        return attribute


@pytest.fixture(scope="session")
def event_loop_thread() -> Iterator[EventLoopThread]:
    loop = EventLoopThread()
    yield loop
    loop.stop()


@pytest.fixture(scope="session")
def async_factory(event_loop_thread: EventLoopThread) -> Iterator[AsyncPostgresSessionStore]:
    store = event_loop_thread.run(AsyncPostgresSessionStore.connect(database_url(), max_size=10))
    yield store
    event_loop_thread.run(store.close())


@pytest.fixture(scope="session")
def pooled_factory(pooler_url: str) -> Iterator[PostgresSessionStore]:
    """The store through PgBouncer in transaction mode, as an app reaches Supabase's pooler."""
    store = PostgresSessionStore(pooler_url, max_size=10)
    yield store
    store.close()


@pytest.fixture(scope="session")
def async_pooled_factory(
    pooler_url: str, event_loop_thread: EventLoopThread
) -> Iterator[AsyncPostgresSessionStore]:
    """The async store through PgBouncer in transaction mode."""
    store = event_loop_thread.run(AsyncPostgresSessionStore.connect(pooler_url, max_size=10))
    yield store
    event_loop_thread.run(store.close())


@pytest.fixture
def auth_users() -> Iterator[Callable[[], uuid.UUID]]:
    """Creates auth users (their profiles follow by trigger); deleted again afterwards."""
    created: list[uuid.UUID] = []

    def make() -> uuid.UUID:
        uid = uuid.uuid4()
        with connect(database_url()) as conn:
            conn.execute(
                "insert into auth.users (id, aud, role, email, raw_app_meta_data, created_at)"
                " values (%s, 'authenticated', 'authenticated', %s,"
                ' \'{"provider": "email"}\', now())',
                (uid, f"{uid}@store.test"),
            )
        created.append(uid)
        return uid

    yield make
    if created:
        with connect(database_url()) as conn:
            conn.execute("delete from auth.users where id = any(%s)", (created,))


@pytest.fixture(params=["memory", "postgres", "async", "pooler", "async-pooler"])
def backend(
    request: pytest.FixtureRequest, auth_users: Callable[[], uuid.UUID]
) -> Iterator[Backend]:
    if request.param == "memory":
        memory = InMemorySessionStore()
        yield Backend("memory", memory, memory.add_user)
    elif request.param == "pooler":
        yield Backend("pooler", request.getfixturevalue("pooled_factory"), auth_users)
    elif request.param == "postgres":
        yield Backend("postgres", request.getfixturevalue("pg_factory"), auth_users)
    else:
        name = "async_factory" if request.param == "async" else "async_pooled_factory"
        blocking = Blocking(
            request.getfixturevalue(name), request.getfixturevalue("event_loop_thread")
        )
        yield Backend(request.param, cast(SessionStoreFactory, blocking), auth_users)
