"""make_store picks the implementation from the environment."""

from __future__ import annotations

import pytest

from lift_db.store import InMemorySessionStore, PostgresSessionStore, StoreError, make_store
from lift_db.store.errors import StoreUnavailableError
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
