"""make_store picks the implementation from the environment."""

from __future__ import annotations

import asyncio

import pytest

from lift_db.local.target import connect
from lift_db.store import (
    InMemorySessionStore,
    PoolSettings,
    PostgresSessionStore,
    PostgresSessionView,
    PromptSession,
    StoreError,
    StoreUnavailableError,
    make_async_store,
    make_store,
)
from lift_db.store.postgres._base import Operation, Steps, one
from tests.store.conftest import database_url


def test_use_supabase_false_selects_the_in_memory_store() -> None:
    assert isinstance(make_store({"USE_SUPABASE": "false"}), InMemorySessionStore)
    assert isinstance(make_store({"USE_SUPABASE": "0", "DATABASE_URL": "x"}), InMemorySessionStore)


def test_database_url_selects_postgres() -> None:
    store = make_store({"DATABASE_URL": database_url()})
    try:
        assert isinstance(store, PostgresSessionStore)
    finally:
        store.close()


def test_no_database_url_is_a_clear_error() -> None:
    with pytest.raises(StoreError, match="DATABASE_URL is not set"):
        make_store({})


def test_an_unreachable_database_is_store_unavailable() -> None:
    with pytest.raises(StoreUnavailableError):
        PostgresSessionStore("postgresql://postgres:x@127.0.0.1:1/postgres", timeout=1)


def test_pool_settings_come_from_the_environment_and_arguments_win() -> None:
    env = {
        "DATABASE_URL": database_url(),
        "LIFT_DB_POOL_MIN_SIZE": "2",
        "LIFT_DB_POOL_MAX_SIZE": "3",
        "LIFT_DB_POOL_MAX_LIFETIME": "120",
        "LIFT_DB_POOL_MAX_IDLE": "60",
        "LIFT_DB_POOL_TIMEOUT": "5",
        "LIFT_DB_POOL_CHECK": "on",
        "LIFT_DB_SLOW_STATEMENT_MS": "250",
        "LIFT_DB_POOL_PREPARE": "Never",
    }
    assert PoolSettings.from_env(env) == PoolSettings(
        min_size=2,
        max_size=3,
        max_lifetime=120.0,
        max_idle=60.0,
        timeout=5.0,
        check=True,
        slow_statement_ms=250.0,
        prepare="never",
    )
    store = make_store(env)
    try:
        assert isinstance(store, PostgresSessionStore)
        pool = store._pool
        assert (pool.min_size, pool.max_size, pool.max_lifetime, pool.max_idle, pool.timeout) == (
            2,
            3,
            120.0,
            60.0,
            5.0,
        )
        assert pool._check is not None
    finally:
        store.close()
    chosen = make_store(env, settings=PoolSettings(max_size=1, min_size=0))
    try:
        assert isinstance(chosen, PostgresSessionStore)
        assert (chosen._pool.min_size, chosen._pool.max_size, chosen._pool._check) == (0, 1, None)
    finally:
        chosen.close()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LIFT_DB_POOL_MAX_SIZE", "many", "is not a valid int"),
        ("LIFT_DB_POOL_CHECK", "perhaps", "is not a valid bool"),
        ("LIFT_DB_POOL_MIN_SIZE", "9", "min_size <= max_size"),
        ("LIFT_DB_POOL_TIMEOUT", "0", "timeout must be more than 0"),
        ("LIFT_DB_POOL_PREPARE", "sometimes", "prepare must be one of auto, always, never"),
    ],
)
def test_bad_pool_settings_are_a_clear_error(name: str, value: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        make_store({"DATABASE_URL": database_url(), name: value})


def backend_pid(view: PostgresSessionView) -> int:
    def steps() -> Steps[int]:
        row = yield one("select pg_backend_pid()")
        return int(row[0])

    return view._run(Operation("pid", steps))


@pytest.mark.parametrize("check", [True, False])
def test_a_connection_killed_while_idle_is_replaced_unseen_with_or_without_check(
    check: bool,
) -> None:
    # Without the pool's check the dead connection fails before the server answered anything;
    # the store drops it and goes on on a fresh one (postgres/_reconnect.py).
    store = PostgresSessionStore(
        database_url(), settings=PoolSettings(min_size=1, max_size=1, check=check)
    )
    try:
        service = store.service()
        pid = backend_pid(service)
        with connect(database_url()) as admin:
            admin.execute("select pg_terminate_backend(%s, 5000)", (pid,))
        assert backend_pid(service) != pid
    finally:
        store.close()


def test_make_async_store_opens_an_async_pool_from_the_environment() -> None:
    async def main() -> tuple[int, list[PromptSession]]:
        store = await make_async_store(
            {"DATABASE_URL": database_url(), "LIFT_DB_POOL_MAX_SIZE": "2"}
        )
        async with store:
            return store._pool.max_size, await store.service().list_all(limit=0)

    assert asyncio.run(main()) == (2, [])
    with pytest.raises(StoreError, match="in-memory store is synchronous"):
        asyncio.run(make_async_store({"USE_SUPABASE": "false"}))
