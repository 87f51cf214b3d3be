"""An id the caller cannot see must fail exactly as an id that does not exist.

Otherwise the difference is an oracle: it tells the caller that another user's session, comment
or repository exists. Every entry point is walked twice, once with a random id and once with
another user's id, and the two outcomes (error type or SQLSTATE, and message with the id
blanked out) must be equal: through the store (both implementations), through every function
of the API schema that takes an id (found in the catalog, so a new function is walked without
editing this file), and through the tables' own write paths.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import psycopg
import pytest
from psycopg import sql

from lift_db.local.target import connect
from lift_db.store import EMBEDDING_DIMENSIONS, NewSession, PromptSession, SessionStore
from tests.store.conftest import Backend, database_url

VECTOR = [1.0] + [0.0] * (EMBEDDING_DIMENSIONS - 1)
VECTOR_TEXT = "[" + ",".join(str(x) for x in VECTOR) + "]"


def outcome(call: Callable[[], object], *ids: uuid.UUID) -> tuple[str, str]:
    """What a call came to, with the ids it was given blanked out of the message."""
    try:
        result: object = call()
        kind, text = "returned", repr(result)
    except Exception as exc:
        kind, text = type(exc).__name__, str(exc)
    for value in ids:
        text = text.replace(str(value), "<id>")
    return kind, text


# -- the store -----------------------------------------------------------------------------------


def store_entry_points(
    theirs: PromptSession, grantee: uuid.UUID
) -> dict[str, Callable[[SessionStore, uuid.UUID], object]]:
    return {
        "create": lambda s, sid: s.create(NewSession(prompt="proposed id", id=sid)),
        "get": lambda s, sid: s.get(sid),
        "update": lambda s, sid: s.update(replace(theirs, id=sid).with_ir({"stolen": True})),
        "delete": lambda s, sid: s.delete(sid),
        "history": lambda s, sid: s.history(sid),
        "rollback": lambda s, sid: s.rollback(sid, 1),
        "set_embedding": lambda s, sid: s.set_embedding(sid, VECTOR, model="m", ir_version=1),
        "get_embedding": lambda s, sid: s.get_embedding(sid),
        "share": lambda s, sid: s.share(sid, grantee, "editor"),
        "unshare": lambda s, sid: s.unshare(sid, grantee),
        "leave_share": lambda s, sid: s.leave_share(sid),
        "shares": lambda s, sid: s.shares(sid),
        "record_event": lambda s, sid: s.record_event("probe", session_id=sid),
        "events": lambda s, sid: s.events(session_id=sid),
    }


def test_every_store_method_fails_alike_for_unseen_and_missing_sessions(backend: Backend) -> None:
    alice_id, bob_id, carol_id = backend.new_user(), backend.new_user(), backend.new_user()
    alice, bob = backend.factory.for_user(alice_id), backend.factory.for_user(bob_id)
    theirs = bob.create(NewSession(prompt="bob's", current_ir={"spec": 1}))
    bob.share(theirs.id, carol_id, "viewer")
    bob.set_embedding(theirs.id, VECTOR, model="m", ir_version=1)
    bob.record_event("probe", session_id=theirs.id)
    entry_points = store_entry_points(theirs, carol_id)
    assert set(entry_points) >= {name for name in dir(SessionStore) if not name.startswith("_")} - {
        "list_active",
        "list_all",
        "list_shared_with_me",
        "search_similar",
    }

    differences = {}
    for name, call in entry_points.items():
        random_id = uuid.uuid4()
        missing = outcome(partial(call, alice, random_id), random_id)
        unseen = outcome(partial(call, alice, theirs.id), theirs.id)
        if missing != unseen:
            differences[name] = (missing, unseen)
        assert missing[0] != "returned" or name in {"get", "get_embedding", "events"}, name
    assert differences == {}
    # Nothing of Bob's moved.
    assert bob.get(theirs.id) == theirs
    assert [s.user_id for s in bob.shares(theirs.id)] == [carol_id]


# -- the database's functions and tables ---------------------------------------------------------


@dataclass
class Scene:
    alice: uuid.UUID
    carol: uuid.UUID
    ids: dict[str, uuid.UUID]  # what of Bob's an argument of that name can name


@pytest.fixture
def scene(auth_users: Callable[[], uuid.UUID]) -> Scene:
    alice, bob, carol = auth_users(), auth_users(), auth_users()
    with connect(database_url()) as conn:
        session = conn.execute(
            "insert into public.sessions (user_id, prompt, current_ir)"
            " values (%s, 'bob hidden', '{\"spec\": 1}') returning id",
            (bob,),
        ).fetchone()
        assert session is not None
        sid = session[0]
        conn.execute(
            "insert into public.session_shares (session_id, user_id) values (%s, %s)", (sid, carol)
        )
        conn.execute(
            "insert into public.session_embeddings (session_id, embedding, model, ir_version)"
            " values (%s, %s::extensions.vector, 'm', 1)",
            (sid, VECTOR_TEXT),
        )
        comment = conn.execute(
            "insert into public.comments (session_id, author_id, body)"
            " values (%s, %s, 'bob: hidden') returning id",
            (sid, bob),
        ).fetchone()
        repository = conn.execute(
            "insert into public.repositories (user_id, owner, name)"
            " values (%s, 'bob-co', 'hidden') returning id",
            (bob,),
        ).fetchone()
        assert comment is not None
        assert repository is not None
        conn.execute(
            "insert into public.favourite_repositories (user_id, repository_id) values (%s, %s)",
            (bob, repository[0]),
        )
        conn.execute(
            "insert into public.user_preferences (user_id, settings) values (%s, '{}')", (bob,)
        )
    return Scene(
        alice,
        carol,
        {
            "session_id": sid,
            "comment_id": comment[0],
            "repository_id": repository[0],
            "user_id": carol,
        },
    )


# Values for the arguments of the API's functions that are not ids.
OTHER_ARGUMENTS: dict[str, Any] = {
    "ir": psycopg.types.json.Jsonb({"probe": True}),
    "expected_version": None,
    "change_description": None,
    "to_version": 1,
}


def as_user(conn: psycopg.Connection[Any], user: uuid.UUID) -> None:
    conn.execute(
        "select set_config('role', 'authenticated', true),"
        " set_config('request.jwt.claims', %s, true)",
        (f'{{"sub": "{user}", "role": "authenticated"}}',),
    )


def sql_outcome(
    conn: psycopg.Connection[Any],
    statement: sql.SQL | sql.Composed,
    params: list[Any],
    *ids: uuid.UUID,
) -> tuple[str, str]:
    """SQLSTATE and message (or the rows) of one statement, rolled back."""
    try:
        with conn.transaction(force_rollback=True):
            cur = conn.execute(statement, params)
            kind, text = "rows", repr(cur.fetchall() if cur.description else cur.rowcount)
    except psycopg.Error as exc:
        kind, text = exc.sqlstate or "?", exc.diag.message_primary or str(exc)
    for value in ids:
        text = text.replace(str(value), "<id>")
    return kind, text


def api_functions_taking_ids(conn: psycopg.Connection[Any]) -> list[tuple[str, list[str]]]:
    rows = conn.execute(
        """
        select p.proname, array(select unnest(p.proargnames) limit p.pronargs)
          from pg_catalog.pg_proc as p
         where p.pronamespace = 'public'::regnamespace
           and pg_catalog.has_function_privilege('authenticated', p.oid, 'EXECUTE')
           and 'uuid'::regtype = any(p.proargtypes::oid[])
         order by p.proname
        """
    ).fetchall()
    return [(name, list(args)) for name, args in rows]


def test_every_api_function_fails_alike_for_unseen_and_missing_ids(scene: Scene) -> None:
    differences = {}
    with connect(database_url()) as conn:
        functions = api_functions_taking_ids(conn)
        assert {"update_session_ir", "delete_session", "delete_comment"} <= {
            name for name, _ in functions
        }
        for name, args in functions:
            unknown = [a for a in args if a not in scene.ids and a not in OTHER_ARGUMENTS]
            assert unknown == [], f"give public.{name}'s arguments {unknown} a value here"
            call = sql.SQL("select {}.{}({})").format(
                sql.Identifier("public"),
                sql.Identifier(name),
                sql.SQL(", ").join(sql.SQL("{} => %s").format(sql.Identifier(a)) for a in args),
            )
            randoms = {a: uuid.uuid4() for a in args if a in scene.ids}
            with conn.transaction(force_rollback=True):
                as_user(conn, scene.alice)
                missing = sql_outcome(
                    conn,
                    call,
                    [randoms.get(a, OTHER_ARGUMENTS.get(a)) for a in args],
                    *randoms.values(),
                )
                unseen = sql_outcome(
                    conn,
                    call,
                    [scene.ids.get(a, OTHER_ARGUMENTS.get(a)) for a in args],
                    *(scene.ids[a] for a in args if a in scene.ids),
                )
            assert missing[0] not in {"rows", "42883"}, (name, missing)
            if missing != unseen:
                differences[name] = (missing, unseen)
    assert differences == {}


# Each table's write paths that name a row by id: the id goes where %s is.
TABLE_PATHS = {
    "propose a session id": "insert into public.sessions (id, prompt) values (%s, 'x')",
    "propose a comment id": (
        "insert into public.comments (id, session_id, body)"
        " select %s, s.id, 'x' from public.sessions as s limit 1"
    ),
    "propose a repository id": (
        "insert into public.repositories (id, owner, name) values (%s, 'o', 'n')"
    ),
    "comment on a session": "insert into public.comments (session_id, body) values (%s, 'x')",
    "event on a session": (
        "insert into public.analytics_events (session_id, event_type) values (%s, 'x')"
    ),
    "embed a session": (
        "insert into public.session_embeddings (session_id, embedding, model, ir_version)"
        " select %s, array_fill(0.5::real, array[a.atttypmod])::extensions.vector, 'm', 1"
        "   from pg_catalog.pg_attribute as a"
        "  where a.attrelid = 'public.session_embeddings'::regclass and a.attname = 'embedding'"
    ),
    "share a session": (
        "insert into public.session_shares (session_id, user_id) values (%s, auth.uid())"
    ),
    "favour a repository": (
        "insert into public.favourite_repositories (repository_id) values (%s)"
    ),
    "update a session": "update public.sessions set prompt = 'x' where id = %s returning id",
    "update a comment": "update public.comments set body = 'x' where id = %s returning id",
    "update a repository": ("update public.repositories set name = 'x' where id = %s returning id"),
    "read a history": "select version from public.session_history where session_id = %s",
}
PATH_TARGETS = {
    "propose a session id": "session_id",
    "propose a comment id": "comment_id",
    "propose a repository id": "repository_id",
    "comment on a session": "session_id",
    "event on a session": "session_id",
    "embed a session": "session_id",
    "share a session": "session_id",
    "favour a repository": "repository_id",
    "update a session": "session_id",
    "update a comment": "comment_id",
    "update a repository": "repository_id",
    "read a history": "session_id",
}


def test_table_writes_fail_alike_for_unseen_and_missing_ids(scene: Scene) -> None:
    differences = {}
    with connect(database_url()) as conn:
        for name, statement in TABLE_PATHS.items():
            target = scene.ids[PATH_TARGETS[name]]
            random_id = uuid.uuid4()
            with conn.transaction(force_rollback=True):
                as_user(conn, scene.alice)
                query = sql.SQL(statement)
                missing = sql_outcome(conn, query, [random_id], random_id)
                unseen = sql_outcome(conn, query, [target], target)
            if missing != unseen:
                differences[name] = (missing, unseen)
    assert differences == {}
