"""Temporary objects cannot make code that runs as the schema's owner run the caller's code.

The attacker signs in as a user and, in their own connection, creates pg_temp domains named like
built-in types (`uuid`, `text`, `jsonb`, `int4`, `timestamptz`), a composite type and tables named
like the app's tables, each domain's CHECK calling a pg_temp function that notes the role it runs
as. Then they do what the API lets them do: read sessions and comments (the RLS helpers run as
`postgres`), write an IR (the history recorder runs as `postgres`), share a session (the share
check runs as `postgres`), call the RPC functions and delete a session (its cascades run as the
table owner). Their code must never run as anyone but themselves.

It is done both ways a client reaches the database: logged in as `authenticator` with
`set role authenticated` (PostgREST's login), and as `postgres` with `set local role` in each
transaction (the session store's way).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import LiteralString

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from lift_db.local.project import find_project
from lift_db.local.server import LOCAL_PASSWORD
from lift_db.local.target import connect, resolve_target
from tests.conftest import ROOT

Conn = psycopg.Connection[tuple[object, ...]]

# Each shadow's CHECK calls pg_temp.payload, which appends the role it runs as to a setting.
SHADOWS = """
create function pg_temp.payload() returns boolean
language plpgsql as $$
begin
  perform pg_catalog.set_config(
    'attack.ran_as',
    pg_catalog.concat_ws(',', nullif(pg_catalog.current_setting('attack.ran_as', true),
                                     ''), current_user::pg_catalog.text),
    false);
  return true;
end
$$;
create domain pg_temp.uuid as pg_catalog.uuid check (pg_temp.payload());
create domain pg_temp.text as pg_catalog.text check (pg_temp.payload());
create domain pg_temp.jsonb as pg_catalog.jsonb check (pg_temp.payload());
create domain pg_temp.int4 as pg_catalog.int4 check (pg_temp.payload());
create domain pg_temp.timestamptz as pg_catalog.timestamptz check (pg_temp.payload());
create type pg_temp.record as (a pg_catalog.int4);
create temporary table sessions (id pg_catalog.uuid, user_id pg_catalog.uuid);
create temporary table session_shares (session_id pg_catalog.uuid, user_id pg_catalog.uuid);
create temporary table users (id pg_catalog.uuid, email pg_catalog.text);
"""


def _database_url() -> str:
    return resolve_target(find_project(ROOT)).url


def _authenticator_url() -> str:
    params = conninfo_to_dict(_database_url())
    params.update(user="authenticator", password=params.get("password") or LOCAL_PASSWORD)
    return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})


@pytest.fixture
def people() -> Iterator[dict[str, uuid.UUID]]:
    """The attacker, a victim with a session shared with the attacker, and a third user."""
    ids = {name: uuid.uuid4() for name in ("attacker", "victim", "third")}
    with connect(_database_url()) as conn:
        for name, uid in ids.items():
            conn.execute(
                "insert into auth.users (id, aud, role, email, raw_app_meta_data, created_at)"
                " values (%s, 'authenticated', 'authenticated', %s, '{\"provider\": \"email\"}',"
                " now())",
                (uid, f"{name}-{uid.hex[:8]}@shadow.lift-sys.dev"),
            )
        row = conn.execute(
            "insert into public.sessions (user_id, prompt, current_ir) values (%s, 'victim', '{}')"
            " returning id",
            (ids["victim"],),
        ).fetchone()
        assert row is not None
        conn.execute(
            "insert into public.session_shares (session_id, user_id, role)"
            " values (%s, %s, 'editor')",
            (row[0], ids["attacker"]),
        )
    yield ids
    with connect(_database_url()) as conn:
        conn.execute("delete from auth.users where id = any(%s)", (list(ids.values()),))


def _claims(uid: uuid.UUID) -> str:
    return json.dumps({"sub": str(uid), "role": "authenticated", "aud": "authenticated"})


def _attack(conn: Conn, people: dict[str, uuid.UUID], begin: Callable[[], object]) -> list[str]:
    """Run every definer path once in its own transaction; the roles the payload ran as."""
    attacker = people["attacker"]
    steps: list[LiteralString] = [
        "select count(*) from public.sessions",
        "select count(*) from public.comments",
        "select count(*) from public.session_history",
        "insert into public.sessions (prompt, current_ir) values ('mine', '{\"v\": 1}')",
        "update public.sessions set current_ir = '{\"v\": 2}' where prompt = 'mine'",
        "select public.update_session_ir(s.id, '{\"v\": 3}') from public.sessions as s"
        " where s.prompt = 'victim'",
        "select public.rollback_session(s.id, 1) from public.sessions as s"
        " where s.prompt = 'victim'",
        "insert into public.session_shares (session_id, user_id) select s.id, %(third)s"
        " from public.sessions as s where s.prompt = 'mine'",
        "insert into public.comments (session_id, body) select s.id, 'hello'"
        " from public.sessions as s where s.prompt = 'victim'",
        "insert into public.analytics_events (event_type, session_id) select 'probe', s.id"
        " from public.sessions as s where s.prompt = 'victim'",
        # Deletes go through SECURITY DEFINER functions: the first place a shadow would run.
        "select public.delete_session(s.id) from public.sessions as s where s.prompt = 'mine'",
    ]
    for step in steps:
        with conn.transaction():
            begin()
            conn.execute("select set_config('request.jwt.claims', %s, true)", (_claims(attacker),))
            conn.execute(step, {"third": people["third"]} if "%(third)s" in step else None)
    row = conn.execute("select current_setting('attack.ran_as', true)").fetchone()
    seen = str(row[0]) if row and row[0] else ""
    return sorted(set(seen.split(","))) if seen else []


def test_shadows_run_as_the_caller_only_logged_in_as_authenticator(
    people: dict[str, uuid.UUID],
) -> None:
    try:
        conn = psycopg.connect(_authenticator_url(), autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"cannot log in as authenticator here: {exc}")
    with conn:
        conn.execute("set role authenticated")
        conn.execute(SHADOWS)
        seen = _attack(conn, people, lambda: None)
    # The shadows are real: the attacker's own casts run them, as the attacker.
    assert seen in ([], ["authenticated"])
    assert "postgres" not in seen


def test_shadows_run_as_the_caller_only_behind_set_local_role(
    people: dict[str, uuid.UUID],
) -> None:
    with connect(_database_url()) as conn:
        with conn.transaction():
            conn.execute("set local role authenticated")
            conn.execute(SHADOWS)
        seen = _attack(conn, people, lambda: conn.execute("set local role authenticated"))
    assert seen in ([], ["authenticated"])


def test_the_shadows_do_fire_for_the_callers_own_casts(people: dict[str, uuid.UUID]) -> None:
    """Proof that the probe can see a payload run: an unqualified cast in the caller's own SQL."""
    with connect(_database_url()) as conn, conn.transaction():
        conn.execute("set local role authenticated")
        conn.execute(SHADOWS)
        conn.execute("select 'a0da0da0-0000-4000-8000-000000000001'::uuid")
        row = conn.execute("select current_setting('attack.ran_as', true)").fetchone()
    assert row is not None
    assert row[0] == "authenticated"
