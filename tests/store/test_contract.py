"""One contract, both stores: every method, isolation, versions, conflicts, rollback, bad input."""

from __future__ import annotations

import math
import uuid
from dataclasses import replace

import pytest

from lift_db.store import (
    InvalidInputError,
    NewSession,
    NotFoundError,
    PermissionDeniedError,
    VersionConflictError,
)
from tests.store.conftest import Backend

IR1 = {"entities": [{"name": "Todo"}], "version": "one"}
IR2 = {"entities": [{"name": "Todo"}, {"name": "User"}]}


def test_create_and_get_round_trip(backend: Backend) -> None:
    alice = backend.factory.for_user(backend.new_user())
    made = alice.create(
        NewSession(
            prompt="a todo app",
            holes=[{"id": "h1", "type": "string"}],
            assists=[{"kind": "hint", "text": "x"}],
        )
    )
    assert made.ir_version == 0
    assert made.current_ir is None
    assert made.status == "active"
    assert alice.get(made.id) == made
    assert alice.get(str(made.id)) == made
    assert made.holes == [{"id": "h1", "type": "string"}]
    assert made.created_at == made.updated_at


def test_creating_with_an_ir_writes_version_one_with_its_description(backend: Backend) -> None:
    alice = backend.factory.for_user(backend.new_user())
    made = alice.create(NewSession(prompt="p", current_ir=IR1, change_description="initial"))
    assert made.ir_version == 1
    [entry] = alice.history(made.id)
    assert (entry.version, entry.ir_snapshot, entry.change_description) == (1, IR1, "initial")


def test_updates_write_contiguous_versions_and_only_when_the_ir_changes(backend: Backend) -> None:
    alice = backend.factory.for_user(backend.new_user())
    session = alice.create(NewSession(prompt="p"))
    session = alice.update(session.with_ir(IR1), change_description="first IR")
    session = alice.update(session.with_ir(IR2))
    assert session.ir_version == 2
    session = alice.update(replace(session, status="finalized", holes=[{"id": "h"}]))
    assert (session.ir_version, session.status, session.holes) == (2, "finalized", [{"id": "h"}])
    history = alice.history(session.id)
    assert [(h.version, h.ir_snapshot, h.change_description) for h in history] == [
        (1, IR1, "first IR"),
        (2, IR2, None),
    ]
    assert alice.get(session.id) == session


def test_a_stale_version_conflicts_and_writes_nothing(backend: Backend) -> None:
    alice = backend.factory.for_user(backend.new_user())
    read = alice.create(NewSession(prompt="p", current_ir=IR1))
    alice.update(read.with_ir(IR2))
    with pytest.raises(VersionConflictError) as conflict:
        alice.update(replace(read.with_ir({"lost": True}), status="abandoned"))
    assert conflict.value.expected == 1
    assert conflict.value.current == 2
    now = alice.get(read.id)
    assert now is not None
    assert (now.ir_version, now.current_ir, now.status) == (2, IR2, "active")
    assert len(alice.history(read.id)) == 2


def test_lists_are_own_sessions_newest_first(backend: Backend) -> None:
    alice = backend.factory.for_user(backend.new_user())
    bob = backend.factory.for_user(backend.new_user())
    first = alice.create(NewSession(prompt="first"))
    second = alice.create(NewSession(prompt="second", status="finalized"))
    third = alice.create(NewSession(prompt="third"))
    bob.create(NewSession(prompt="bob's"))
    assert [s.id for s in alice.list_all()] == [third.id, second.id, first.id]
    assert [s.id for s in alice.list_active()] == [third.id, first.id]
    assert [s.id for s in alice.list_all(limit=1)] == [third.id]
    assert [s.prompt for s in bob.list_all()] == ["bob's"]


def test_delete_removes_session_and_history(backend: Backend) -> None:
    alice = backend.factory.for_user(backend.new_user())
    session = alice.create(NewSession(prompt="p", current_ir=IR1))
    alice.delete(session.id)
    assert alice.get(session.id) is None
    with pytest.raises(NotFoundError):
        alice.history(session.id)
    with pytest.raises(NotFoundError):
        alice.delete(session.id)


def test_rollback_writes_a_new_version_equal_to_the_old_one(backend: Backend) -> None:
    alice = backend.factory.for_user(backend.new_user())
    session = alice.create(NewSession(prompt="p", current_ir=IR1))
    session = alice.update(session.with_ir(IR2))
    rolled = alice.rollback(session.id, 1)
    assert (rolled.ir_version, rolled.current_ir) == (3, IR1)
    history = alice.history(session.id)
    assert [h.version for h in history] == [1, 2, 3]
    assert history[2].change_description == "rollback to version 1"
    assert history[0].ir_snapshot == history[2].ir_snapshot
    with pytest.raises(NotFoundError, match="has no version 7"):
        alice.rollback(session.id, 7)
    with pytest.raises(VersionConflictError):
        alice.rollback(session.id, 2, expected_version=2)
    assert len(alice.history(session.id)) == 3


def test_users_are_isolated(backend: Backend) -> None:
    alice = backend.factory.for_user(backend.new_user())
    bob = backend.factory.for_user(backend.new_user())
    session = alice.create(NewSession(prompt="alice's", current_ir=IR1))
    assert bob.get(session.id) is None
    assert bob.list_all() == []
    with pytest.raises(NotFoundError):
        bob.update(session.with_ir(IR2))
    with pytest.raises(NotFoundError):
        bob.delete(session.id)
    with pytest.raises(NotFoundError):
        bob.history(session.id)
    with pytest.raises(NotFoundError):
        bob.rollback(session.id, 1)
    assert alice.get(session.id) == session
    assert len(alice.history(session.id)) == 1


def test_a_session_cannot_be_created_for_or_handed_to_another_user(backend: Backend) -> None:
    alice_id, bob_id = backend.new_user(), backend.new_user()
    alice = backend.factory.for_user(alice_id)
    with pytest.raises(PermissionDeniedError):
        alice.create(NewSession(prompt="p", user_id=bob_id))
    session = alice.create(NewSession(prompt="p"))
    with pytest.raises(PermissionDeniedError):
        alice.update(replace(session, user_id=bob_id))
    assert backend.factory.for_user(bob_id).list_all() == []


def test_service_mode_sees_everyone_and_must_name_an_owner(backend: Backend) -> None:
    alice_id, bob_id = backend.new_user(), backend.new_user()
    a = backend.factory.for_user(alice_id).create(NewSession(prompt="a"))
    b = backend.factory.for_user(bob_id).create(NewSession(prompt="b"))
    service = backend.factory.service()
    assert service.get(a.id) == a
    assert {a.id, b.id} <= {s.id for s in service.list_all()}
    with pytest.raises(InvalidInputError, match="owner"):
        service.create(NewSession(prompt="nobody's"))
    made = service.create(NewSession(prompt="for alice", user_id=alice_id))
    assert backend.factory.for_user(alice_id).get(made.id) == made
    chosen = uuid.uuid4()
    imported = service.create(NewSession(prompt="imported", id=chosen, user_id=alice_id))
    assert imported.id == chosen


def test_the_database_assigns_session_ids(backend: Backend) -> None:
    alice_id, bob_id = backend.new_user(), backend.new_user()
    alice, bob = backend.factory.for_user(alice_id), backend.factory.for_user(bob_id)
    first, second = alice.create(NewSession(prompt="a")), alice.create(NewSession(prompt="b"))
    assert first.id != second.id
    theirs = bob.create(NewSession(prompt="bob's"))
    # A user cannot propose an id: not a random one, not one that exists (no existence oracle).
    for proposed in (uuid.uuid4(), theirs.id, first.id):
        with pytest.raises(InvalidInputError, match="assigned by the database"):
            alice.create(NewSession(prompt="mine", id=proposed))
    assert {s.id for s in alice.list_all()} == {first.id, second.id}
    assert bob.get(theirs.id) == theirs


BAD_NEW_SESSIONS = [
    pytest.param(NewSession(prompt=""), id="empty prompt"),
    pytest.param(NewSession(prompt="   \n"), id="blank prompt"),
    pytest.param(NewSession(prompt="x" * 20_001), id="oversized prompt"),
    pytest.param(NewSession(prompt="nul\x00byte"), id="NUL in prompt"),
    pytest.param(NewSession(prompt="p", status="paused"), id="unknown status"),  # type: ignore[arg-type]
    pytest.param(NewSession(prompt="p", current_ir=[1, 2]), id="non-object IR"),  # type: ignore[arg-type]
    pytest.param(NewSession(prompt="p", current_ir={"x": math.nan}), id="NaN in IR"),
    pytest.param(NewSession(prompt="\ud800"), id="lone surrogate"),
]


@pytest.mark.parametrize("new", BAD_NEW_SESSIONS)
def test_bad_input_is_a_typed_error_and_writes_nothing(backend: Backend, new: NewSession) -> None:
    alice = backend.factory.for_user(backend.new_user())
    with pytest.raises(InvalidInputError):
        alice.create(new)
    assert alice.list_all() == []


def test_deeply_nested_ir_is_refused(backend: Backend) -> None:
    alice = backend.factory.for_user(backend.new_user())
    deep: dict[str, object] = {}
    node = deep
    for _ in range(200):
        child: dict[str, object] = {}
        node["n"] = child
        node = child
    session = alice.create(NewSession(prompt="p"))
    with pytest.raises(InvalidInputError, match="nested deeper"):
        alice.update(session.with_ir(deep))
    assert alice.history(session.id) == []


@pytest.mark.parametrize("bad_id", ["", "not-a-uuid", "1; drop table public.sessions", "0" * 33])
def test_malformed_ids_are_invalid_input(backend: Backend, bad_id: str) -> None:
    alice = backend.factory.for_user(backend.new_user())
    with pytest.raises(InvalidInputError):
        alice.get(bad_id)
    with pytest.raises(InvalidInputError):
        alice.delete(bad_id)
    with pytest.raises(InvalidInputError):
        backend.factory.for_user(bad_id)


def test_unknown_ids_are_not_found(backend: Backend) -> None:
    alice = backend.factory.for_user(backend.new_user())
    missing = uuid.uuid4()
    assert alice.get(missing) is None
    with pytest.raises(NotFoundError):
        alice.delete(missing)
    with pytest.raises(NotFoundError):
        alice.rollback(missing, 1)


def test_removing_the_ir_is_refused(backend: Backend) -> None:
    alice = backend.factory.for_user(backend.new_user())
    session = alice.create(NewSession(prompt="p", current_ir=IR1))
    with pytest.raises(InvalidInputError, match="cannot be removed"):
        alice.update(replace(session, current_ir=None, status="abandoned"))
    assert alice.get(session.id) == session
