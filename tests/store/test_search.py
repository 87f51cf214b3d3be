"""One contract, both stores: IR embeddings and similarity search.

Embeddings here lie in the plane of the first two axes, so the cosine similarity of two of them is
exactly cos(the angle between them) and every ranking below is known in advance.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import replace

import pytest

from lift_db.local.target import connect
from lift_db.store import (
    EMBEDDING_DIMENSIONS,
    InvalidInputError,
    NewSession,
    NotFoundError,
    PermissionDeniedError,
    PostgresSessionStore,
    VersionConflictError,
)
from lift_db.store import _validation as store_validation
from tests.store.conftest import Backend, database_url

IR = {"entities": [{"name": "Todo"}]}


def planar(degrees: float, length: float = 1.0) -> list[float]:
    radians = math.radians(degrees)
    vector = [0.0] * EMBEDDING_DIMENSIONS
    vector[0], vector[1] = length * math.cos(radians), length * math.sin(radians)
    return vector


def similar_to(degrees: float) -> object:
    return pytest.approx(math.cos(math.radians(degrees)), abs=1e-6)


def test_search_returns_own_sessions_best_first_with_their_similarity(backend: Backend) -> None:
    alice = backend.factory.for_user(backend.new_user())
    ids = {}
    for angle in (100, 30, 60):
        session = alice.create(NewSession(prompt=f"at {angle}", current_ir=IR))
        alice.set_embedding(session.id, planar(angle), model="m", ir_version=1)
        ids[angle] = session.id
    found = alice.search_similar(planar(0))
    assert [r.session_id for r in found] == [ids[30], ids[60], ids[100]]
    assert [r.similarity for r in found] == [similar_to(30), similar_to(60), similar_to(100)]
    assert [r.is_stale for r in found] == [False, False, False]
    assert [r.session_id for r in alice.search_similar(planar(0), limit=2)] == [ids[30], ids[60]]
    assert [r.session_id for r in alice.search_similar(planar(0), 10, 0.4)] == [ids[30], ids[60]]
    assert alice.search_similar(planar(0), min_similarity=0.9) == []
    # Only the direction counts.
    scaled = alice.search_similar(planar(0, length=40.0))
    assert [r.session_id for r in scaled] == [r.session_id for r in found]
    assert [r.similarity for r in scaled] == [similar_to(30), similar_to(60), similar_to(100)]


def test_ties_come_back_in_session_id_order(backend: Backend) -> None:
    alice = backend.factory.for_user(backend.new_user())
    made = [alice.create(NewSession(prompt=f"twin {n}", current_ir=IR)) for n in range(3)]
    for session in made:
        alice.set_embedding(session.id, planar(45), model="m", ir_version=1)
    found = alice.search_similar(planar(45))
    assert [r.session_id for r in found] == sorted(s.id for s in made)
    assert [r.similarity for r in found] == [pytest.approx(1.0, abs=1e-6)] * 3


def test_search_never_returns_another_users_session(backend: Backend) -> None:
    alice = backend.factory.for_user(backend.new_user())
    bob = backend.factory.for_user(backend.new_user())
    mine = alice.create(NewSession(prompt="alice's", current_ir=IR))
    alice.set_embedding(mine.id, planar(50), model="m", ir_version=1)
    theirs = bob.create(NewSession(prompt="bob's", current_ir=IR))
    bob.set_embedding(theirs.id, planar(0), model="m", ir_version=1)
    assert [r.session_id for r in alice.search_similar(planar(0), limit=100)] == [mine.id]
    assert [r.session_id for r in bob.search_similar(planar(50), limit=100)] == [theirs.id]
    everyone = backend.factory.service().search_similar(planar(0), limit=100)
    assert [r.session_id for r in everyone if r.session_id in (mine.id, theirs.id)] == [
        theirs.id,
        mine.id,
    ]


def test_only_the_owner_stores_an_embedding(backend: Backend) -> None:
    alice_id = backend.new_user()
    alice = backend.factory.for_user(alice_id)
    bob = backend.factory.for_user(backend.new_user())
    session = alice.create(NewSession(prompt="p", current_ir=IR))
    with pytest.raises(NotFoundError):
        bob.set_embedding(session.id, planar(0), model="m", ir_version=1)
    assert bob.get_embedding(session.id) is None
    assert alice.get_embedding(session.id) is None
    stored = backend.factory.service().set_embedding(
        session.id, planar(0), model="job", ir_version=1
    )
    assert alice.get_embedding(session.id) == stored
    assert bob.get_embedding(session.id) is None


def test_an_embedding_records_its_ir_version_and_goes_stale(backend: Backend) -> None:
    alice = backend.factory.for_user(backend.new_user())
    session = alice.create(NewSession(prompt="p", current_ir=IR))
    first = alice.set_embedding(session.id, planar(10), model="m1", ir_version=1)
    assert (first.session_id, first.model, first.ir_version, first.current_ir_version) == (
        session.id,
        "m1",
        1,
        1,
    )
    assert not first.is_stale
    assert first.created_at == first.updated_at
    assert alice.get_embedding(session.id) == first

    session = alice.update(session.with_ir({"entities": []}))
    now = alice.get_embedding(session.id)
    assert now is not None
    assert (now.ir_version, now.current_ir_version, now.is_stale) == (1, 2, True)
    [hit] = alice.search_similar(planar(10))
    assert (hit.session_id, hit.is_stale) == (session.id, True)
    # Status, prompt and holes write no IR version.
    alice.update(replace(session, status="finalized", holes=[{"id": "h"}]))
    assert alice.get_embedding(session.id) == now

    second = alice.set_embedding(session.id, planar(20), model="m2", ir_version=2)
    assert (second.ir_version, second.model, second.is_stale) == (2, "m2", False)
    assert second.created_at == first.created_at
    assert second.updated_at >= first.updated_at
    assert alice.search_similar(planar(20))[0].is_stale is False

    with pytest.raises(VersionConflictError) as conflict:
        alice.set_embedding(session.id, planar(0), model="late", ir_version=1)
    assert (conflict.value.expected, conflict.value.current) == (1, 2)
    assert alice.get_embedding(session.id) == second
    assert alice.search_similar(planar(20))[0].similarity == similar_to(0)

    with pytest.raises(NotFoundError, match="has no ir version 3"):
        alice.set_embedding(session.id, planar(0), model="m", ir_version=3)
    rolled = alice.rollback(session.id, 1)
    stale = alice.get_embedding(session.id)
    assert stale is not None
    assert (stale.ir_version, stale.current_ir_version, stale.is_stale) == (
        2,
        rolled.ir_version,
        True,
    )


def test_a_session_without_an_ir_has_nothing_to_embed(backend: Backend) -> None:
    alice = backend.factory.for_user(backend.new_user())
    session = alice.create(NewSession(prompt="p"))
    with pytest.raises(NotFoundError, match="has no ir version 1"):
        alice.set_embedding(session.id, planar(0), model="m", ir_version=1)
    assert alice.get_embedding(session.id) is None


def test_deleting_a_session_deletes_its_embedding(backend: Backend) -> None:
    alice = backend.factory.for_user(backend.new_user())
    session = alice.create(NewSession(prompt="p", current_ir=IR))
    alice.set_embedding(session.id, planar(0), model="m", ir_version=1)
    alice.delete(session.id)
    assert alice.get_embedding(session.id) is None
    assert alice.search_similar(planar(0)) == []
    with pytest.raises(NotFoundError):
        alice.set_embedding(session.id, planar(0), model="m", ir_version=1)


def test_unknown_and_malformed_sessions(backend: Backend) -> None:
    alice = backend.factory.for_user(backend.new_user())
    with pytest.raises(NotFoundError):
        alice.set_embedding(uuid.uuid4(), planar(0), model="m", ir_version=1)
    assert alice.get_embedding(uuid.uuid4()) is None
    with pytest.raises(InvalidInputError):
        alice.set_embedding("not-a-uuid", planar(0), model="m", ir_version=1)
    with pytest.raises(InvalidInputError):
        alice.get_embedding("1; drop table public.session_embeddings")


def _with(index: int, value: object) -> list[object]:
    vector: list[object] = list(planar(0))
    vector[index] = value
    return vector


BAD_EMBEDDINGS = [
    pytest.param([1.0, 0.0, 0.0], id="3 dimensions"),
    pytest.param([*planar(0), 0.0], id="1537 dimensions"),
    pytest.param([], id="empty"),
    pytest.param(_with(5, math.nan), id="NaN"),
    pytest.param(_with(5, math.inf), id="infinity"),
    pytest.param(_with(5, -math.inf), id="minus infinity"),
    pytest.param(_with(5, 1e39), id="beyond float4"),
    pytest.param(_with(5, 10**400), id="huge integer"),
    pytest.param([0.0] * EMBEDDING_DIMENSIONS, id="zero vector"),
    pytest.param([1e-50] * EMBEDDING_DIMENSIONS, id="zero in float4"),
    pytest.param(_with(5, "0.5"), id="text component"),
    pytest.param(_with(5, True), id="boolean component"),
    pytest.param(_with(5, None), id="missing component"),
    pytest.param("[1,0,0]", id="text"),
    pytest.param(None, id="none"),
]


@pytest.mark.parametrize("embedding", BAD_EMBEDDINGS)
def test_bad_embeddings_are_invalid_input_and_change_nothing(
    backend: Backend, embedding: object
) -> None:
    alice = backend.factory.for_user(backend.new_user())
    session = alice.create(NewSession(prompt="p", current_ir=IR))
    stored = alice.set_embedding(session.id, planar(0), model="m", ir_version=1)
    with pytest.raises(InvalidInputError):
        alice.set_embedding(session.id, embedding, model="m", ir_version=1)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        alice.search_similar(embedding)  # type: ignore[arg-type]
    assert alice.get_embedding(session.id) == stored
    assert alice.search_similar(planar(0))[0].similarity == similar_to(0)


@pytest.mark.parametrize(
    ("limit", "min_similarity"),
    [
        pytest.param(0, -1.0, id="limit 0"),
        pytest.param(101, -1.0, id="limit 101"),
        pytest.param(-3, -1.0, id="negative limit"),
        pytest.param(2.5, -1.0, id="fractional limit"),
        pytest.param(True, -1.0, id="boolean limit"),
        pytest.param(10, 1.5, id="min_similarity above 1"),
        pytest.param(10, -1.01, id="min_similarity below -1"),
        pytest.param(10, math.nan, id="NaN min_similarity"),
        pytest.param(10, "0.5", id="text min_similarity"),
    ],
)
def test_bad_search_bounds_are_invalid_input(
    backend: Backend, limit: object, min_similarity: object
) -> None:
    alice = backend.factory.for_user(backend.new_user())
    with pytest.raises(InvalidInputError):
        alice.search_similar(planar(0), limit, min_similarity)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("model", "ir_version"),
    [
        pytest.param("", 1, id="empty model"),
        pytest.param(" \t", 1, id="blank model"),
        pytest.param("m" * 201, 1, id="model over 200 characters"),
        pytest.param("nul\x00", 1, id="NUL in model"),
        pytest.param(7, 1, id="model not text"),
        pytest.param("m", 0, id="ir_version 0"),
        pytest.param("m", -1, id="negative ir_version"),
        pytest.param("m", True, id="boolean ir_version"),
        pytest.param("m", "1", id="text ir_version"),
    ],
)
def test_bad_model_or_version_is_invalid_input(
    backend: Backend, model: object, ir_version: object
) -> None:
    alice = backend.factory.for_user(backend.new_user())
    session = alice.create(NewSession(prompt="p", current_ir=IR))
    with pytest.raises(InvalidInputError):
        alice.set_embedding(session.id, planar(0), model=model, ir_version=ir_version)  # type: ignore[arg-type]
    assert alice.get_embedding(session.id) is None


def test_the_database_declares_the_same_dimension() -> None:
    with connect(database_url()) as conn:
        row = conn.execute(
            "select a.atttypmod from pg_catalog.pg_attribute as a"
            " where a.attrelid = 'public.session_embeddings'::regclass"
            "   and a.attname = 'embedding'"
        ).fetchone()
    assert row == (EMBEDDING_DIMENSIONS,)


def test_the_databases_own_checks_are_invalid_input(
    pg_factory: PostgresSessionStore,
    auth_users: Callable[[], uuid.UUID],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A client whose idea of the dimension is wrong still gets InvalidInputError, by SQLSTATE."""
    alice = pg_factory.for_user(auth_users())
    session = alice.create(NewSession(prompt="p", current_ir=IR))
    monkeypatch.setattr(store_validation, "EMBEDDING_DIMENSIONS", 3)
    with pytest.raises(InvalidInputError, match="expected 1536 dimensions, not 3"):
        alice.set_embedding(session.id, [1.0, 0.0, 0.0], model="m", ir_version=1)
    with pytest.raises(InvalidInputError, match="has 3 dimensions; session embeddings have 1536"):
        alice.search_similar([1.0, 0.0, 0.0])
    assert alice.get_embedding(session.id) is None


def test_a_shared_session_is_searchable_by_its_readers_and_embedded_by_its_owner(
    backend: Backend,
) -> None:
    alice_id, victor_id, erin_id = backend.new_user(), backend.new_user(), backend.new_user()
    alice = backend.factory.for_user(alice_id)
    victor, erin = backend.factory.for_user(victor_id), backend.factory.for_user(erin_id)
    shared = alice.create(NewSession(prompt="shared", current_ir=IR))
    private = alice.create(NewSession(prompt="private", current_ir=IR))
    alice.set_embedding(shared.id, planar(0), model="m", ir_version=1)
    alice.set_embedding(private.id, planar(5), model="m", ir_version=1)
    alice.share(shared.id, victor_id, "viewer")
    alice.share(shared.id, erin_id, "editor")

    for reader in (victor, erin):
        assert [r.session_id for r in reader.search_similar(planar(5))] == [shared.id]
        assert reader.get_embedding(shared.id) == alice.get_embedding(shared.id)
        assert reader.get_embedding(private.id) is None
        with pytest.raises(PermissionDeniedError, match="only the owner"):
            reader.set_embedding(shared.id, planar(90), model="m", ir_version=1)

    # The editor's new IR makes the embedding stale for every reader, until the owner embeds it.
    seen = erin.get(shared.id)
    assert seen is not None
    erin.update(seen.with_ir({"entities": []}))
    assert [r.is_stale for r in victor.search_similar(planar(0))] == [True]
    alice.set_embedding(shared.id, planar(0), model="m", ir_version=2)
    assert [r.is_stale for r in victor.search_similar(planar(0))] == [False]

    alice.unshare(shared.id, victor_id)
    assert victor.search_similar(planar(0)) == []
    assert victor.get_embedding(shared.id) is None
    assert [r.session_id for r in erin.search_similar(planar(0))] == [shared.id]
