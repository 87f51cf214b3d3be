"""Sharing, both stores: who reads and writes a shared session, and who manages its shares."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace

import pytest
from psycopg.types.json import Jsonb

from lift_db.local.target import connect
from lift_db.store import (
    InvalidInputError,
    NewSession,
    NotFoundError,
    PermissionDeniedError,
    PostgresSessionStore,
    VersionConflictError,
)
from tests.store.conftest import Backend, database_url

IR1 = {"entities": [{"name": "Todo"}]}
IR2 = {"entities": [{"name": "Todo"}, {"name": "User"}]}


def test_a_viewer_reads_the_session_and_changes_nothing(backend: Backend) -> None:
    alice_id, victor_id = backend.new_user(), backend.new_user()
    alice, victor = backend.factory.for_user(alice_id), backend.factory.for_user(victor_id)
    session = alice.create(NewSession(prompt="shared", current_ir=IR1, holes=[{"id": "h"}]))
    share = alice.share(session.id, victor_id, "viewer")
    assert (share.session_id, share.user_id, share.role) == (session.id, victor_id, "viewer")

    assert victor.get(session.id) == session
    assert [h.version for h in victor.history(session.id)] == [1]
    assert victor.list_shared_with_me() == [session]
    assert victor.list_all() == []  # own sessions only
    with pytest.raises(PermissionDeniedError, match="viewer"):
        victor.update(session.with_ir(IR2))
    with pytest.raises(PermissionDeniedError, match="viewer"):
        victor.update(replace(session, status="abandoned"))
    with pytest.raises(PermissionDeniedError, match="viewer"):
        victor.rollback(session.id, 1)
    with pytest.raises(PermissionDeniedError, match="only the owner"):
        victor.delete(session.id)
    assert alice.get(session.id) == session
    assert len(alice.history(session.id)) == 1


def test_an_editor_writes_the_ir_and_nothing_else(backend: Backend) -> None:
    alice_id, erin_id = backend.new_user(), backend.new_user()
    alice, erin = backend.factory.for_user(alice_id), backend.factory.for_user(erin_id)
    session = alice.create(NewSession(prompt="shared", current_ir=IR1, assists=[{"a": 1}]))
    alice.share(session.id, erin_id, "editor")

    seen = erin.get(session.id)
    assert seen is not None
    edited = erin.update(seen.with_ir(IR2), change_description="erin's edit")
    assert (edited.ir_version, edited.current_ir, edited.user_id) == (2, IR2, alice_id)
    assert (edited.prompt, edited.status, edited.assists) == ("shared", "active", [{"a": 1}])
    rolled = erin.rollback(session.id, 1, expected_version=2)
    assert (rolled.ir_version, rolled.current_ir) == (3, IR1)
    with pytest.raises(VersionConflictError):
        erin.update(edited.with_ir({"stale": True}))

    for change in (
        replace(rolled, status="finalized"),
        replace(rolled, prompt="renamed"),
        replace(rolled, holes=[{"id": "new"}]),
        replace(rolled.with_ir({"and": "status"}), status="abandoned"),
    ):
        with pytest.raises(PermissionDeniedError, match="only the owner"):
            erin.update(change)
    with pytest.raises(PermissionDeniedError, match="only the owner"):
        erin.delete(session.id)
    with pytest.raises(PermissionDeniedError, match="only the owner"):
        erin.share(session.id, backend.new_user(), "viewer")

    now = alice.get(session.id)
    assert now == rolled
    assert [(h.version, h.change_description) for h in alice.history(session.id)] == [
        (1, None),
        (2, "erin's edit"),
        (3, "rollback to version 1"),
    ]


def test_only_the_owner_manages_shares(backend: Backend) -> None:
    alice_id, erin_id, victor_id = backend.new_user(), backend.new_user(), backend.new_user()
    alice = backend.factory.for_user(alice_id)
    erin, victor = backend.factory.for_user(erin_id), backend.factory.for_user(victor_id)
    session = alice.create(NewSession(prompt="shared"))
    alice.share(session.id, erin_id, "editor")
    alice.share(session.id, victor_id)  # viewer by default

    assert {(s.user_id, s.role) for s in alice.shares(session.id)} == {
        (erin_id, "editor"),
        (victor_id, "viewer"),
    }
    assert [(s.user_id, s.role) for s in victor.shares(session.id)] == [(victor_id, "viewer")]
    with pytest.raises(PermissionDeniedError, match="only the owner"):
        victor.share(session.id, victor_id, "editor")
    with pytest.raises(PermissionDeniedError, match="only the owner"):
        erin.unshare(session.id, victor_id)

    promoted = alice.share(session.id, victor_id, "editor")  # sharing again changes the role
    assert promoted.role == "editor"
    assert sorted(s.role for s in alice.shares(session.id)) == ["editor", "editor"]


def test_unsharing_ends_access_at_once(backend: Backend) -> None:
    alice_id, erin_id = backend.new_user(), backend.new_user()
    alice, erin = backend.factory.for_user(alice_id), backend.factory.for_user(erin_id)
    session = alice.create(NewSession(prompt="shared", current_ir=IR1))
    alice.share(session.id, erin_id, "editor")
    assert erin.get(session.id) is not None

    alice.unshare(session.id, erin_id)
    assert erin.get(session.id) is None
    assert erin.list_shared_with_me() == []
    with pytest.raises(NotFoundError):
        erin.update(session.with_ir(IR2))
    with pytest.raises(NotFoundError):
        erin.history(session.id)
    with pytest.raises(NotFoundError):
        erin.shares(session.id)
    with pytest.raises(NotFoundError, match="not shared"):
        alice.unshare(session.id, erin_id)
    assert alice.shares(session.id) == []


def test_a_stranger_cannot_share_someone_elses_session(backend: Backend) -> None:
    alice_id, mallory_id = backend.new_user(), backend.new_user()
    alice, mallory = backend.factory.for_user(alice_id), backend.factory.for_user(mallory_id)
    session = alice.create(NewSession(prompt="alice's"))
    with pytest.raises(NotFoundError):
        mallory.share(session.id, mallory_id, "editor")
    with pytest.raises(NotFoundError):
        mallory.unshare(session.id, mallory_id)
    with pytest.raises(NotFoundError):
        mallory.shares(session.id)
    assert mallory.get(session.id) is None
    assert alice.shares(session.id) == []


def test_deleting_a_session_removes_its_shares(backend: Backend) -> None:
    alice_id, victor_id = backend.new_user(), backend.new_user()
    alice, victor = backend.factory.for_user(alice_id), backend.factory.for_user(victor_id)
    keep = alice.create(NewSession(prompt="kept"))
    gone = alice.create(NewSession(prompt="gone"))
    alice.share(keep.id, victor_id)
    alice.share(gone.id, victor_id)
    alice.delete(gone.id)
    assert [s.id for s in victor.list_shared_with_me()] == [keep.id]


def test_service_mode_shares_any_session(backend: Backend) -> None:
    alice_id, bob_id = backend.new_user(), backend.new_user()
    alice, bob = backend.factory.for_user(alice_id), backend.factory.for_user(bob_id)
    session = alice.create(NewSession(prompt="alice's"))
    service = backend.factory.service()
    assert service.share(session.id, bob_id, "editor").role == "editor"
    assert bob.get(session.id) == session
    assert [s.user_id for s in service.shares(session.id)] == [bob_id]
    with pytest.raises(InvalidInputError):
        service.share(session.id, alice_id)  # with the owner
    with pytest.raises(InvalidInputError, match="no user"):
        service.list_shared_with_me()
    service.unshare(session.id, bob_id)
    assert bob.get(session.id) is None


@pytest.mark.parametrize("role", ["admin", "owner", "", "Viewer", None])
def test_an_unknown_role_is_invalid_input(backend: Backend, role: object) -> None:
    alice = backend.factory.for_user(backend.new_user())
    bob_id = backend.new_user()
    session = alice.create(NewSession(prompt="p"))
    with pytest.raises(InvalidInputError, match="share role"):
        alice.share(session.id, bob_id, role)  # type: ignore[arg-type]
    assert alice.shares(session.id) == []


def test_sharing_with_oneself_or_nobody_is_invalid_input(backend: Backend) -> None:
    alice_id = backend.new_user()
    alice = backend.factory.for_user(alice_id)
    session = alice.create(NewSession(prompt="p"))
    with pytest.raises(InvalidInputError, match="shared with its owner"):
        alice.share(session.id, alice_id, "editor")
    with pytest.raises(InvalidInputError, match="does not exist"):
        alice.share(session.id, uuid.uuid4(), "viewer")
    with pytest.raises(InvalidInputError):
        alice.share(session.id, "not-a-uuid", "viewer")
    with pytest.raises(InvalidInputError):
        alice.share("not-a-uuid", uuid.uuid4(), "viewer")
    assert alice.shares(session.id) == []
    with pytest.raises(InvalidInputError):
        alice.list_shared_with_me(limit=-1)


def test_an_editor_leaves_metadata_the_model_does_not_carry_alone(
    pg_factory: PostgresSessionStore, auth_users: Callable[[], uuid.UUID]
) -> None:
    """Postgres only: a session written through the API may hold more metadata than the model."""
    alice_id, erin_id = auth_users(), auth_users()
    with connect(database_url()) as conn:
        row = conn.execute(
            "insert into public.sessions (user_id, prompt, metadata)"
            " values (%s, 'from the API', %s) returning id",
            (alice_id, Jsonb({"holes": [], "ui": {"pinned": True}})),
        ).fetchone()
    assert row is not None
    pg_factory.for_user(alice_id).share(row[0], erin_id, "editor")
    erin = pg_factory.for_user(erin_id)
    seen = erin.get(row[0])
    assert seen is not None
    assert erin.update(seen.with_ir(IR1)).ir_version == 1
    with connect(database_url()) as conn:
        metadata = conn.execute(
            "select metadata from public.sessions where id = %s", (row[0],)
        ).fetchone()
    assert metadata == ({"holes": [], "ui": {"pinned": True}},)


def test_a_grantee_leaves_a_share_pushed_on_them(backend: Backend) -> None:
    alice_id, erin_id, victor_id = backend.new_user(), backend.new_user(), backend.new_user()
    alice = backend.factory.for_user(alice_id)
    erin, victor = backend.factory.for_user(erin_id), backend.factory.for_user(victor_id)
    session = alice.create(NewSession(prompt="pushed", current_ir=IR1))
    alice.share(session.id, erin_id, "editor")
    alice.share(session.id, victor_id)

    victor.leave_share(session.id)
    assert victor.get(session.id) is None
    assert victor.list_shared_with_me() == []
    with pytest.raises(NotFoundError):  # gone for him: as if it had never existed
        victor.leave_share(session.id)
    # Leaving is one's own share only: another grantee's stays the owner's to revoke.
    with pytest.raises(PermissionDeniedError, match="only the owner"):
        erin.unshare(session.id, alice_id)
    erin.unshare(session.id, erin_id)  # unshare naming oneself is leaving too
    assert erin.get(session.id) is None
    assert alice.shares(session.id) == []
    assert alice.get(session.id) == session


def test_leaving_what_was_never_shared_is_not_found(backend: Backend) -> None:
    alice_id, mallory_id = backend.new_user(), backend.new_user()
    alice, mallory = backend.factory.for_user(alice_id), backend.factory.for_user(mallory_id)
    session = alice.create(NewSession(prompt="alice's"))
    with pytest.raises(NotFoundError):
        mallory.leave_share(session.id)
    with pytest.raises(NotFoundError):
        mallory.leave_share(uuid.uuid4())
    with pytest.raises(NotFoundError):  # the owner holds no share of her own session
        alice.leave_share(session.id)
    with pytest.raises(InvalidInputError, match="no user"):
        backend.factory.service().leave_share(session.id)
    with pytest.raises(InvalidInputError):
        alice.leave_share("not-a-uuid")
