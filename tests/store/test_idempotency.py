"""A create with an idempotency key happens once per user and key, however often it is sent."""

from __future__ import annotations

import threading

import pytest

from lift_db.store import InvalidInputError, NewSession
from tests.store.conftest import Backend

IR = {"entities": [{"name": "Todo"}]}


def test_a_retried_create_returns_the_first_session(backend: Backend) -> None:
    alice = backend.factory.for_user(backend.new_user())
    first = alice.create(
        NewSession(prompt="p", current_ir=IR, change_description="v1", idempotency_key="req-1")
    )
    again = alice.create(NewSession(prompt="other", current_ir={"x": 1}, idempotency_key="req-1"))
    assert again == first
    assert [s.id for s in alice.list_all()] == [first.id]
    assert [(h.version, h.change_description) for h in alice.history(first.id)] == [(1, "v1")]


def test_the_retry_returns_the_session_as_it_is_now(backend: Backend) -> None:
    alice = backend.factory.for_user(backend.new_user())
    first = alice.create(NewSession(prompt="p", idempotency_key="req-1"))
    changed = alice.update(first.with_ir(IR))
    assert alice.create(NewSession(prompt="p", idempotency_key="req-1")) == changed


def test_keys_are_per_user(backend: Backend) -> None:
    alice_id, bob_id = backend.new_user(), backend.new_user()
    alice, bob = backend.factory.for_user(alice_id), backend.factory.for_user(bob_id)
    mine = alice.create(NewSession(prompt="alice", idempotency_key="same"))
    theirs = bob.create(NewSession(prompt="bob", idempotency_key="same"))
    assert mine.id != theirs.id
    assert (mine.user_id, theirs.user_id) == (alice_id, bob_id)
    assert bob.get(mine.id) is None
    service = backend.factory.service()
    made = service.create(NewSession(prompt="svc", user_id=alice_id, idempotency_key="same"))
    assert made == mine


def test_without_a_key_every_create_is_new_and_a_deleted_sessions_key_is_free(
    backend: Backend,
) -> None:
    alice = backend.factory.for_user(backend.new_user())
    a, b = alice.create(NewSession(prompt="p")), alice.create(NewSession(prompt="p"))
    assert a.id != b.id
    keyed = alice.create(NewSession(prompt="p", idempotency_key="k"))
    alice.delete(keyed.id)
    again = alice.create(NewSession(prompt="p", idempotency_key="k"))
    assert again.id != keyed.id


@pytest.mark.parametrize("key", ["", "k" * 201, "é" * 101, "nul\x00", 7])
def test_a_bad_key_is_refused_and_nothing_is_made(backend: Backend, key: object) -> None:
    alice = backend.factory.for_user(backend.new_user())
    with pytest.raises(InvalidInputError, match="idempotency key"):
        alice.create(NewSession(prompt="p", idempotency_key=key))  # type: ignore[arg-type]
    assert alice.list_all() == []


def test_concurrent_creates_with_one_key_make_one_session(backend: Backend) -> None:
    alice = backend.factory.for_user(backend.new_user())
    made: list[object] = []
    barrier = threading.Barrier(6)

    def create() -> None:
        barrier.wait()
        made.append(alice.create(NewSession(prompt="p", idempotency_key="burst")).id)

    threads = [threading.Thread(target=create) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 6
    assert len(set(made)) == 1
    assert len(alice.list_all()) == 1
