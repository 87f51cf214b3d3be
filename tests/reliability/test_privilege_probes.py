"""What the API roles must never be able to do, tried for real on objects found in the catalog.

Each probe runs as `anon`, and as `authenticated` signed in as a user who owns data, the way
PostgREST runs a request (role and JWT claims set in the transaction), and is rolled back
whatever happens. Tables, functions and roles are enumerated from the catalog, so a table or
function a new migration adds is probed without a change here. A probe passes only when the
database refuses it with `insufficient_privilege` (42501); a refusal for another reason (a
syntax error in the probe, a missing object) would prove nothing and fails the test.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from lift_db.backup import _checksums
from lift_db.local.project import Project
from lift_db.local.target import connect
from lift_db.migrate import commands
from tests.conftest import ScratchFactory
from tests.reliability import figures
from tests.reliability.support import (
    EXPOSED_SCHEMAS,
    Conn,
    Function,
    act_as,
    as_role,
    create_auth_user,
    executable,
    functions,
)

REFUSED = "42501"
Statement = sql.SQL | sql.Composed | str
API_ROLES = ("anon", "authenticated")


@dataclass(frozen=True)
class Actor:
    role: str
    user: uuid.UUID | None


@pytest.fixture
def conn(db_url: str) -> Iterator[Conn]:
    with connect(db_url) as c:
        yield c


@pytest.fixture
def owner(api_users: Callable[[str], uuid.UUID], conn: Conn) -> uuid.UUID:
    """A signed-in user with a session and some history, so that probes have rows to aim at."""
    uid = api_users("prober")
    with as_role(conn, "authenticated", uid):
        row = conn.execute(
            "insert into public.sessions (prompt, current_ir) values ('probe', '{}') returning id"
        ).fetchone()
        assert row is not None
        conn.execute("select public.update_session_ir(%s, '{\"v\": 2}')", (row[0],))
    return uid


@pytest.fixture
def actors(owner: uuid.UUID) -> list[Actor]:
    return [Actor("anon", None), Actor("authenticated", owner)]


def _query(statement: Statement) -> sql.SQL | sql.Composed:
    return sql.SQL(statement) if isinstance(statement, str) else statement


def attempt(conn: Conn, actor: Actor, statement: Statement) -> str | None:
    """Run one statement as the actor and roll back; the SQLSTATE it failed with, or None."""
    query = _query(statement)
    try:
        with conn.transaction(force_rollback=True):
            act_as(conn, actor.role, actor.user)
            conn.execute(query)
    except psycopg.Error as exc:
        return exc.sqlstate or "(no sqlstate)"
    return None


class Probes:
    """Collects every probe that was not refused, and counts them all."""

    def __init__(self, conn: Conn, count: bool = True) -> None:
        self.conn = conn
        self.count = count
        self.tried = 0
        self.not_refused: list[str] = []

    def expect_refused(self, actor: Actor, statement: Statement, label: str) -> None:
        self.tried += 1
        state = attempt(self.conn, actor, statement)
        if state != REFUSED:
            outcome = "succeeded" if state is None else f"failed with {state}, not 42501"
            self.not_refused.append(f"{actor.role}: {label}: {outcome}")

    def verdict(self, category: str) -> None:
        if self.count:
            figures.add("privilege probes: tried", self.tried)
            figures.add("privilege probes: refused", self.tried - len(self.not_refused))
        assert self.not_refused == [], f"{category}:\n" + "\n".join(self.not_refused)


def _tables(conn: Conn, schemas: list[str]) -> list[tuple[str, str]]:
    rows = conn.execute(
        "select n.nspname, c.relname from pg_class as c"
        " join pg_namespace as n on n.oid = c.relnamespace"
        " where n.nspname = any(%s) and c.relkind in ('r', 'p', 'v', 'm', 'f')"
        " order by 1, 2",
        (schemas,),
    ).fetchall()
    return [(str(s), str(t)) for s, t in rows]


def test_auth_migration_history_and_private_schemas_are_unreadable(
    conn: Conn, actors: list[Actor]
) -> None:
    probes = Probes(conn)
    hidden = ["auth", _checksums.MIGRATION_SCHEMA, "private"]
    tables = _tables(conn, hidden)
    assert ("auth", "users") in tables
    assert (_checksums.MIGRATION_SCHEMA, "schema_migrations") in tables
    for actor in actors:
        for schema, table in tables:
            name = sql.Identifier(schema, table)
            probes.expect_refused(
                actor, sql.SQL("select * from {} limit 1").format(name), f"read {schema}.{table}"
            )
            probes.expect_refused(
                actor,
                sql.SQL("delete from {}").format(name),
                f"delete the rows of {schema}.{table}",
            )
    probes.verdict("reading what the API must not see")


@contextmanager
def session_as(admin_url: str, role: str) -> Iterator[Conn]:
    """A session whose session user is the API role itself, as if it could log in and run SQL:
    what SET ROLE and the settings checked against the session user are judged by. (Inside a
    PostgREST request the session user is `authenticator`, a member of every API role; the API
    never runs client SQL, which is what the other probes check.)"""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("set session authorization {}").format(sql.Identifier(role)))
        yield conn


def attempt_in_session(conn: Conn, statement: Statement) -> str | None:
    query = _query(statement)
    try:
        conn.execute(query)
    except psycopg.Error as exc:
        return exc.sqlstate or "(no sqlstate)"
    finally:
        conn.execute("reset role")
    return None


def test_no_api_role_can_become_another_role(conn: Conn, admin_url: str, db_url: str) -> None:
    probes = Probes(conn)
    roles = [str(r[0]) for r in conn.execute("select rolname from pg_roles order by 1").fetchall()]
    assert {"service_role", "postgres", "supabase_admin", "authenticator"} <= set(roles)
    for api_role in API_ROLES:
        with session_as(admin_url, api_role) as session:
            for role in roles:
                if role == api_role:
                    continue
                switches: list[tuple[str, Statement]] = [
                    (f"set role {role}", sql.SQL("set role {}").format(sql.Identifier(role))),
                    (
                        f"set_config('role', '{role}')",
                        sql.SQL("select set_config('role', {}, false)").format(sql.Literal(role)),
                    ),
                ]
                for label, statement in switches:
                    probes.tried += 1
                    state = attempt_in_session(session, statement)
                    if state != REFUSED:
                        probes.not_refused.append(f"{api_role}: {label}: {state or 'succeeded'}")
            # Statements that refuse to run in a transaction block, so only a session shows
            # whether the role could run them.
            outside: list[tuple[str, Statement]] = [
                ("alter system", "alter system set log_statement = 'all'"),
                ("create a database", "create database probe"),
                ("create a role", "create role probe"),
            ]
            for label, statement in outside:
                probes.tried += 1
                state = attempt_in_session(session, statement)
                if state != REFUSED:
                    probes.not_refused.append(f"{api_role}: {label}: {state or 'succeeded'}")
        # And neither can open a session of its own.
        probes.tried += 1
        login = make_conninfo(db_url, user=api_role, password="postgres")
        try:
            psycopg.connect(login, connect_timeout=10).close()
            probes.not_refused.append(f"{api_role} logged in")
        except psycopg.OperationalError:
            pass
    probes.verdict("switching roles")


def _ddl(schema: str, table: str, column: str) -> list[tuple[str, Statement]]:
    t = sql.Identifier(schema, table)
    c = sql.Identifier(column)
    return [
        ("drop table", sql.SQL("drop table {}").format(t)),
        ("truncate", sql.SQL("truncate {}").format(t)),
        ("add a column", sql.SQL("alter table {} add column probe int").format(t)),
        ("disable RLS", sql.SQL("alter table {} disable row level security").format(t)),
        ("no force RLS", sql.SQL("alter table {} no force row level security").format(t)),
        ("add a policy", sql.SQL("create policy probe on {} using (true)").format(t)),
        ("take ownership", sql.SQL("alter table {} owner to current_user").format(t)),
        ("create an index", sql.SQL("create index on {} ({})").format(t, c)),
        (
            "create a trigger",
            sql.SQL(
                "create trigger probe before update on {} for each row"
                " execute function pg_catalog.suppress_redundant_updates_trigger()"
            ).format(t),
        ),
        ("disable its triggers", sql.SQL("alter table {} disable trigger all").format(t)),
        ("comment on it", sql.SQL("comment on table {} is 'probe'").format(t)),
        ("rename it", sql.SQL("alter table {} rename to probe").format(t)),
    ]


def _schema_exists(conn: Conn, schema: str) -> bool:
    row = conn.execute("select to_regnamespace(%s) is not null", (schema,)).fetchone()
    return bool(row and row[0])


def test_ddl_on_app_tables_is_refused(conn: Conn, actors: list[Actor]) -> None:
    probe_ddl(Probes(conn), actors)


def probe_ddl(probes: Probes, actors: list[Actor]) -> None:
    conn = probes.conn
    schemas = _checksums.app_schemas(conn)
    tables = _checksums.app_tables(conn, schemas)
    assert ("public", "sessions") in tables
    for actor in actors:
        for schema, table in tables:
            column = conn.execute(
                "select attname from pg_attribute where attrelid = %s::regclass and attnum = 1",
                (f"{schema}.{table}",),
            ).fetchone()
            assert column is not None
            for label, statement in _ddl(schema, table, str(column[0])):
                probes.expect_refused(actor, statement, f"{label} on {schema}.{table}")
        present = [s for s in EXPOSED_SCHEMAS if _schema_exists(conn, s)]
        for schema in [*present, *schemas]:
            s = sql.Identifier(schema)
            probes.expect_refused(
                actor, sql.SQL("create table {}.probe (id int)").format(s), f"create in {schema}"
            )
            probes.expect_refused(
                actor,
                sql.SQL("create function {}.probe() returns int language sql as 'select 1'").format(
                    s
                ),
                f"create a function in {schema}",
            )
        probes.expect_refused(actor, "create schema probe", "create a schema")
        probes.expect_refused(actor, "create extension amcheck", "create an extension")
    probes.verdict("DDL on the app's objects")


def test_grants_by_api_roles_change_nothing(conn: Conn, actors: list[Actor]) -> None:
    """GRANT by a role that holds some privileges without the grant option only warns: what
    counts is that it is refused or void."""
    tables = _checksums.app_tables(conn, _checksums.app_schemas(conn))
    before = _checksums.privileges(conn)
    for actor in actors:
        for schema, table in tables:
            statement = sql.SQL("grant all on {} to anon, authenticated").format(
                sql.Identifier(schema, table)
            )
            try:
                with conn.transaction(force_rollback=True):
                    act_as(conn, actor.role, actor.user)
                    conn.execute(statement)
                    conn.execute("reset role")
                    assert _checksums.privileges(conn) == before, f"{actor.role} granted on {table}"
            except psycopg.errors.InsufficientPrivilege:
                pass
            figures.add("privilege probes: tried", 1)
            figures.add("privilege probes: refused", 1)


def test_history_is_written_only_by_the_database(
    conn: Conn, actors: list[Actor], owner: uuid.UUID
) -> None:
    probes = Probes(conn)
    row = conn.execute(
        "select id from public.sessions where user_id = %s and ir_version >= 1 limit 1", (owner,)
    ).fetchone()
    assert row is not None
    sid = sql.Literal(str(row[0]))
    writes = [
        (
            "insert history",
            sql.SQL(
                "insert into public.session_history (session_id, version, ir_snapshot)"
                " values ({}::uuid, 99, '{{}}')"
            ).format(sid),
        ),
        (
            "rewrite history",
            sql.SQL(
                "update public.session_history set ir_snapshot = '{{}}' where session_id = {}::uuid"
            ).format(sid),
        ),
        (
            "delete history",
            sql.SQL("delete from public.session_history where session_id = {}::uuid").format(sid),
        ),
    ]
    for actor in [*actors, Actor("service_role", None)]:
        for label, statement in writes:
            probes.expect_refused(actor, statement, label)
    # The owner's own session row cannot move its version or change hands either.
    me = Actor("authenticated", owner)
    probes.expect_refused(
        me,
        sql.SQL("update public.sessions set ir_version = 0 where id = {}::uuid").format(sid),
        "set ir_version",
    )
    probes.expect_refused(
        me,
        sql.SQL(
            "update public.sessions set user_id = gen_random_uuid() where id = {}::uuid"
        ).format(sid),
        "hand the session to someone else",
    )
    probes.verdict("writing history")


def test_the_server_itself_is_out_of_reach(conn: Conn, actors: list[Actor]) -> None:
    probes = Probes(conn)
    escapes = [
        ("read a server file", "select pg_read_file('postgresql.conf')"),
        ("list the data directory", "select pg_ls_dir('.')"),
        ("import a large object", "select lo_import('/etc/passwd')"),
        ("copy to a program", "copy (select 1) to program 'true'"),
        (
            "copy from a server file",
            "create temp table probe (t text); copy probe from '/etc/passwd'",
        ),
        ("reload the configuration", "select pg_reload_conf()"),
        ("turn triggers off", "set session_replication_role = replica"),
        ("log statements", "set log_statement = 'all'"),
        ("read past RLS", "set local row_security = off; select * from public.sessions"),
    ]
    for actor in actors:
        for label, statement in escapes:
            probes.expect_refused(actor, statement, label)
    probes.verdict("reaching the server")


# -- functions -----------------------------------------------------------------------------------


def call(function: Function) -> sql.Composed:
    args = sql.SQL(", ").join(sql.SQL("null::{}").format(sql.SQL(t)) for t in function.arg_types)
    target = sql.Identifier(function.schema, function.name)
    if function.kind == "p":
        return sql.SQL("call {}({})").format(target, args)
    return sql.SQL("select {}({})").format(target, args)


def test_functions_the_api_does_not_offer_are_refused(conn: Conn, actors: list[Actor]) -> None:
    """anon may execute nothing in an exposed schema; authenticated only the API's functions
    (SECURITY INVOKER, pinned search_path, so that RLS still decides); nobody reaches `private`
    or any SECURITY DEFINER function."""
    offered = probe_functions(Probes(conn), actors)
    figures.add("privilege probes: functions offered to authenticated", len(offered))


def probe_functions(probes: Probes, actors: list[Actor]) -> list[str]:
    conn = probes.conn
    exposed = functions(conn, list(EXPOSED_SCHEMAS))
    hidden = functions(conn, [s for s in _checksums.app_schemas(conn) if s not in EXPOSED_SCHEMAS])
    assert any(f.name == "update_session_ir" for f in exposed)
    assert any(f.security_definer for f in hidden)
    offered: list[str] = []
    for actor in actors:
        for function in [*exposed, *hidden]:
            allowed = executable(conn, actor.role, function)
            api = (
                allowed
                and actor.role == "authenticated"
                and function.schema in EXPOSED_SCHEMAS
                and function.kind in ("f", "p")
            )
            if api:
                problems = []
                if function.security_definer:
                    problems.append("is SECURITY DEFINER")
                if function.returns_trigger:
                    problems.append("is a trigger function")
                if not any(c.startswith("search_path=") for c in function.config):
                    problems.append("does not pin search_path")
                probes.tried += 1
                if problems:
                    probes.not_refused.append(
                        f"{function.signature} is offered to authenticated but "
                        + ", ".join(problems)
                    )
                else:
                    offered.append(function.signature)
                continue
            if allowed and function.returns_trigger:
                probes.tried += 1
                probes.not_refused.append(f"{actor.role} may execute trigger {function.signature}")
                continue
            probes.expect_refused(actor, call(function), f"execute {function.signature}")
    probes.verdict("executing functions")
    return offered


def test_service_role_still_cannot_forge_history_or_owners(conn: Conn, owner: uuid.UUID) -> None:
    """service_role bypasses RLS, but not the guards: README, Sessions and IR history."""
    probes = Probes(conn)
    service = Actor("service_role", None)
    with as_role(conn, "service_role"):
        row = conn.execute("select id from public.sessions where user_id = %s", (owner,)).fetchone()
    assert row is not None
    sid = sql.Literal(str(row[0]))
    probes.expect_refused(
        service,
        sql.SQL(
            "update public.sessions set user_id = gen_random_uuid() where id = {}::uuid"
        ).format(sid),
        "change a session's owner",
    )
    probes.expect_refused(
        service,
        sql.SQL(
            "update public.session_history set ir_snapshot = '{{}}' where session_id = {}::uuid"
        ).format(sid),
        "rewrite history",
    )
    probes.verdict("service_role guards")


# -- the probes catch what they are there to catch -----------------------------------------------


def test_the_probes_catch_a_forgotten_revoke_and_a_leaking_function(
    scratch_db: ScratchFactory, project: Project
) -> None:
    """On a copy of the schema with two classic holes: a migration that left TRUNCATE with
    authenticated, and a SECURITY DEFINER function in public that Supabase's default
    privileges hand to anon."""
    target = scratch_db()
    commands.migrate(project, target, lambda _: None)
    with connect(target.url) as conn:
        uid = create_auth_user(conn, "victim")
        conn.execute("grant truncate on public.sessions to authenticated")
        conn.execute(
            "create function public.leak() returns setof auth.users language sql"
            " security definer set search_path = '' as 'select * from auth.users'"
        )
        actors = [Actor("anon", None), Actor("authenticated", uid)]
        with pytest.raises(AssertionError, match=r"authenticated: truncate on public\.sessions"):
            probe_ddl(Probes(conn, count=False), actors)
        with pytest.raises(AssertionError, match=r"public\.leak\(\) is offered to authenticated"):
            probe_functions(Probes(conn, count=False), actors)
