"""The store and the database's limits: typed errors for oversized or undecodable values, the
API roles' settings applied per transaction, and the author of every IR version."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import psycopg
import pytest

from lift_db.local.project import find_project
from lift_db.local.target import connect, resolve_target
from lift_db.store import (
    NewSession,
    PayloadTooLargeError,
    PostgresSessionStore,
    UndecodableValueError,
)
from lift_db.store.postgres._base import Operation, Steps, one
from tests.conftest import ROOT
from tests.store.conftest import Backend, database_url

DEEP = 5000


def _admin_url() -> str:
    admin = resolve_target(find_project(ROOT)).admin_url
    if admin is None:
        pytest.skip("needs the local server's superuser to plant a value past the caps")
    return admin


def _deep(levels: int) -> str:
    return '{"a": ' + "[" * levels + "]" * levels + "}"


def test_deep_json_planted_past_the_caps_is_a_typed_error_not_a_crash(
    pg_factory: PostgresSessionStore, auth_users: Callable[[], uuid.UUID]
) -> None:
    uid = auth_users()
    # As a superuser with triggers off: what a row written before the caps, or restored around
    # them, may hold.
    with psycopg.connect(_admin_url(), autocommit=True) as admin, admin.transaction():
        admin.execute("set local session_replication_role = replica")
        admin.execute(
            "insert into public.analytics_events (user_id, event_type, event_data)"
            " values (%s, 'planted', %s::jsonb)",
            (uid, _deep(DEEP)),
        )
    with pytest.raises(UndecodableValueError, match="nested too deeply"):
        pg_factory.service().events(limit=100)
    with pytest.raises(UndecodableValueError):
        pg_factory.for_user(uid).events()
    # The pool is whole afterwards: the same store goes on working.
    assert pg_factory.for_user(uid).list_all() == []
    with connect(database_url()) as conn:
        conn.execute("delete from public.analytics_events where user_id = %s", (uid,))
    assert pg_factory.service().events(limit=1) is not None


def test_an_ir_over_its_cap_is_a_typed_error(
    pg_factory: PostgresSessionStore, auth_users: Callable[[], uuid.UUID]
) -> None:
    alice = pg_factory.for_user(auth_users())
    session = alice.create(NewSession(prompt="big", current_ir={"v": 1}))
    with pytest.raises(PayloadTooLargeError, match=r"current_ir is \d+ bytes, over its limit"):
        alice.update(session.with_ir({"blob": "x" * (1 << 20)}))
    assert [h.version for h in alice.history(session.id)] == [1]


def test_the_api_roles_settings_apply_in_every_store_transaction(
    pg_factory: PostgresSessionStore, auth_users: Callable[[], uuid.UUID]
) -> None:
    with connect(database_url()) as conn:
        expected = conn.execute(
            "select coalesce((select split_part(c, '=', 2)"
            "  from pg_catalog.pg_db_role_setting as s, unnest(s.setconfig) as c"
            " where s.setrole = 'authenticated'::regrole and c like 'statement_timeout=%'), '')"
        ).fetchone()
    assert expected is not None
    assert expected[0], "the authenticated role has no statement_timeout setting"
    user = pg_factory.for_user(auth_users())

    def timeout() -> Steps[str]:
        row = yield one("select current_setting('statement_timeout')")
        return str(row[0])

    assert user._run(Operation("timeout", timeout)) == expected[0]
    # The login role's own value comes back after the transaction: the setting was local.
    with pg_factory._pool.connection() as conn:
        row = conn.execute("select current_setting('statement_timeout')").fetchone()
    assert row is not None
    assert row[0] != expected[0] or expected[0] == "0"


def test_the_platform_layer_gives_the_api_roles_supabases_timeouts() -> None:
    with connect(database_url()) as conn:
        rows = conn.execute(
            "select r.rolname, c from pg_catalog.pg_db_role_setting as s"
            " join pg_catalog.pg_roles as r on r.oid = s.setrole, unnest(s.setconfig) as c"
            " where r.rolname in ('anon', 'authenticated') and c like 'statement_timeout=%'"
        ).fetchall()
    assert sorted(rows) == [
        ("anon", "statement_timeout=3s"),
        ("authenticated", "statement_timeout=8s"),
    ]


def test_every_version_names_its_author(backend: Backend) -> None:
    owner_id, editor_id = backend.new_user(), backend.new_user()
    owner = backend.factory.for_user(owner_id)
    session = owner.create(NewSession(prompt="authored", current_ir={"v": 1}))
    owner.share(session.id, editor_id, "editor")
    editor = backend.factory.for_user(editor_id)
    session = editor.update(editor.get(session.id).with_ir({"v": 2}))  # type: ignore[union-attr]
    backend.factory.service().update(session.with_ir({"v": 3}))
    authors = [(h.version, h.author_id) for h in owner.history(session.id)]
    assert authors == [(1, owner_id), (2, editor_id), (3, None)]


def test_a_client_cannot_choose_the_author(
    pg_factory: PostgresSessionStore, auth_users: Callable[[], uuid.UUID]
) -> None:
    owner_id, other = auth_users(), auth_users()
    session = pg_factory.for_user(owner_id).create(NewSession(prompt="mine"))
    with connect(database_url()) as conn, conn.transaction():
        conn.execute(
            "select set_config('role', 'authenticated', true),"
            " set_config('request.jwt.claims', %s, true)",
            (json.dumps({"sub": str(owner_id), "role": "authenticated"}),),
        )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "insert into public.session_history (session_id, version, ir_snapshot, author_id)"
                " values (%s, 1, '{}', %s)",
                (session.id, other),
            )
