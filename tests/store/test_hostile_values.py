"""Values travel as parameters, never as SQL: hostile text round-trips byte for byte."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lift_db.local.target import connect
from lift_db.store import (
    EMBEDDING_DIMENSIONS,
    InvalidInputError,
    NewSession,
    PostgresSessionStore,
    SessionStore,
)
from tests.store.conftest import database_url

SQL_METACHARACTERS = st.sampled_from(
    ["'", '"', ";", "--", "/*", "*/", "$$", "$tag$", "\\", "%s", "%(x)s", "{}", "E'\\x00'",
     "'); drop table public.sessions; --", "' or '1'='1", "\u2028", "🙂"]
)  # fmt: skip
# Text PostgreSQL can store: no NUL, no lone surrogates.
STORABLE_TEXT = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=60
)
HOSTILE_TEXT = st.lists(st.one_of(SQL_METACHARACTERS, STORABLE_TEXT), min_size=1, max_size=6).map(
    "".join
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | HOSTILE_TEXT,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(HOSTILE_TEXT, children, max_size=3)
    ),
    max_leaves=10,
)


@pytest.fixture(scope="module")
def hostile_user() -> Iterator[SessionStore]:
    uid = uuid.uuid4()
    with connect(database_url()) as conn:
        conn.execute(
            "insert into auth.users (id, aud, role, email, created_at)"
            " values (%s, 'authenticated', 'authenticated', %s, now())",
            (uid, f"{uid}@hostile.test"),
        )
    store = PostgresSessionStore(database_url(), max_size=2)
    yield store.for_user(uid)
    store.close()
    with connect(database_url()) as conn:
        conn.execute("delete from auth.users where id = %s", (uid,))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(prompt=HOSTILE_TEXT, key=HOSTILE_TEXT, value=JSON_VALUES, description=HOSTILE_TEXT)
def test_hostile_strings_round_trip_exactly(
    hostile_user: SessionStore, prompt: str, key: str, value: object, description: str
) -> None:
    if not prompt.strip():
        prompt = "p" + prompt
    ir = {key: value}
    made = hostile_user.create(
        NewSession(prompt=prompt, current_ir=ir, change_description=description[:1000])
    )
    assert hostile_user.get(made.id) == made
    assert made.prompt == prompt
    assert made.current_ir == ir
    [entry] = hostile_user.history(made.id)
    assert entry.change_description == (description[:1000] or None)
    hostile_user.delete(made.id)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=HOSTILE_TEXT)
def test_hostile_ids_are_invalid_input_not_sql(hostile_user: SessionStore, text: str) -> None:
    with pytest.raises(InvalidInputError):
        hostile_user.get(text + "-not-a-uuid")
    with connect(database_url()) as conn:
        row = conn.execute("select to_regclass('public.sessions') is not null").fetchone()
    assert row == (True,)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(model=HOSTILE_TEXT)
def test_hostile_model_names_round_trip_exactly(hostile_user: SessionStore, model: str) -> None:
    if not model.strip():
        model = "m" + model
    model = model[:200]
    made = hostile_user.create(NewSession(prompt="p", current_ir={"spec": 1}))
    embedding = [0.0] * EMBEDDING_DIMENSIONS
    embedding[0] = 1.0
    stored = hostile_user.set_embedding(made.id, embedding, model=model, ir_version=1)
    assert stored.model == model
    assert hostile_user.get_embedding(made.id) == stored
    assert [r.session_id for r in hostile_user.search_similar(embedding)] == [made.id]
    hostile_user.delete(made.id)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(key=HOSTILE_TEXT, value=JSON_VALUES, prompt_type=HOSTILE_TEXT)
def test_hostile_event_data_round_trips_exactly(
    hostile_user: SessionStore, key: str, value: object, prompt_type: str
) -> None:
    data = {key: value, "prompt_type": prompt_type}
    event = hostile_user.record_event("hostile.probe", event_data=data, latency_ms=1)
    assert event.event_data == data
    assert hostile_user.events(limit=1) == [event]
