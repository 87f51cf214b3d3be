"""Both session stores behind one fixture, and users to act as."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from lift_db.local.project import find_project
from lift_db.local.target import connect, resolve_target
from lift_db.store import InMemorySessionStore, PostgresSessionStore, SessionStoreFactory
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


@pytest.fixture(params=["memory", "postgres"])
def backend(
    request: pytest.FixtureRequest, auth_users: Callable[[], uuid.UUID]
) -> Iterator[Backend]:
    if request.param == "memory":
        memory = InMemorySessionStore()
        yield Backend("memory", memory, memory.add_user)
    else:
        yield Backend("postgres", request.getfixturevalue("pg_factory"), auth_users)
