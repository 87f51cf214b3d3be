"""Analytics events, both stores: recorded as oneself, for readable sessions, read back alone."""

from __future__ import annotations

import uuid

import pytest

from lift_db.store import InvalidInputError, NewSession, NotFoundError, PermissionDeniedError
from tests.store.conftest import Backend


def test_events_are_recorded_and_read_back_newest_first(backend: Backend) -> None:
    alice_id = backend.new_user()
    alice = backend.factory.for_user(alice_id)
    session = alice.create(NewSession(prompt="measured"))
    first = alice.record_event(
        "ir_generated",
        session_id=session.id,
        event_data={"prompt_type": "function", "tokens": 812},
        latency_ms=1200,
    )
    assert (first.session_id, first.user_id, first.event_type) == (
        session.id,
        alice_id,
        "ir_generated",
    )
    assert (first.event_data, first.latency_ms) == (
        {"prompt_type": "function", "tokens": 812},
        1200,
    )
    second = alice.record_event("signed_in")
    assert (second.session_id, second.event_data, second.latency_ms) == (None, {}, None)
    third = alice.record_event("session_finalized", session_id=str(session.id), latency_ms=0)

    assert [e.id for e in alice.events()] == [third.id, second.id, first.id]
    assert alice.events(limit=1) == [third]
    assert [e.id for e in alice.events(session_id=session.id)] == [third.id, first.id]


def test_users_read_only_their_own_events(backend: Backend) -> None:
    alice_id, victor_id = backend.new_user(), backend.new_user()
    alice, victor = backend.factory.for_user(alice_id), backend.factory.for_user(victor_id)
    session = alice.create(NewSession(prompt="shared"))
    alice.share(session.id, victor_id, "viewer")
    mine = alice.record_event("ir_generated", session_id=session.id)
    his = victor.record_event("session_viewed", session_id=session.id)  # a reader may record
    assert alice.events() == [mine]
    assert victor.events() == [his]
    assert victor.events(session_id=session.id) == [his]
    service = backend.factory.service()
    assert {mine.id, his.id} <= {e.id for e in service.events(session_id=session.id)}


def test_an_event_for_a_session_one_cannot_read_is_not_found(backend: Backend) -> None:
    alice = backend.factory.for_user(backend.new_user())
    mallory = backend.factory.for_user(backend.new_user())
    session = alice.create(NewSession(prompt="alice's"))
    with pytest.raises(NotFoundError):
        mallory.record_event("snooping", session_id=session.id)
    with pytest.raises(NotFoundError):
        alice.record_event("ir_generated", session_id=uuid.uuid4())
    assert mallory.events() == []
    assert alice.events() == []


def test_events_outlive_their_session(backend: Backend) -> None:
    alice = backend.factory.for_user(backend.new_user())
    session = alice.create(NewSession(prompt="p"))
    event = alice.record_event("session_abandoned", session_id=session.id, latency_ms=5)
    alice.delete(session.id)
    [kept] = alice.events()
    assert (kept.id, kept.session_id, kept.latency_ms) == (event.id, None, 5)


def test_events_are_recorded_as_oneself(backend: Backend) -> None:
    alice_id, bob_id = backend.new_user(), backend.new_user()
    alice = backend.factory.for_user(alice_id)
    with pytest.raises(PermissionDeniedError):
        alice.record_event("forged", user_id=bob_id)
    assert alice.record_event("mine", user_id=alice_id).user_id == alice_id
    service = backend.factory.service()
    with pytest.raises(InvalidInputError, match="needs a user"):
        service.record_event("server_side")
    assert service.record_event("server_side", user_id=bob_id).user_id == bob_id
    assert [e.event_type for e in backend.factory.for_user(bob_id).events()] == ["server_side"]


BAD_EVENTS = [
    pytest.param({"event_type": "ir_generated", "latency_ms": -1}, id="negative latency"),
    pytest.param({"event_type": "ir_generated", "latency_ms": 2**31}, id="latency over int4"),
    pytest.param({"event_type": "ir_generated", "latency_ms": 1.5}, id="fractional latency"),
    pytest.param({"event_type": "ir_generated", "latency_ms": True}, id="boolean latency"),
    pytest.param({"event_type": "ir_generated", "event_data": [1, 2]}, id="array data"),
    pytest.param({"event_type": "ir_generated", "event_data": "text"}, id="string data"),
    pytest.param(
        {"event_type": "ir_generated", "event_data": {"prompt_type": 3}}, id="prompt_type"
    ),
    pytest.param({"event_type": "ir_generated", "event_data": {"x": float("nan")}}, id="NaN data"),
    pytest.param({"event_type": "ir_generated", "event_data": {"x": "\x00"}}, id="NUL in data"),
    pytest.param(
        {"event_type": "ir_generated", "event_data": {"x": "y" * 70_000}}, id="oversized data"
    ),
    pytest.param({"event_type": ""}, id="empty type"),
    pytest.param({"event_type": "Drop Table"}, id="type outside the alphabet"),
    pytest.param({"event_type": "x" * 65}, id="type too long"),
    pytest.param({"event_type": "ir_generated", "session_id": "nope"}, id="malformed session id"),
]


@pytest.mark.parametrize("kwargs", BAD_EVENTS)
def test_bad_events_are_invalid_input_and_write_nothing(
    backend: Backend, kwargs: dict[str, object]
) -> None:
    alice = backend.factory.for_user(backend.new_user())
    with pytest.raises(InvalidInputError):
        alice.record_event(**kwargs)  # type: ignore[arg-type]
    assert alice.events() == []
    with pytest.raises(InvalidInputError):
        alice.events(limit=-1)
