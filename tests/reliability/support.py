"""What the reliability tests share: acting as an API role, users, invariants and digests."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from lift_db.backup import _checksums
from lift_db.local.project import find_project
from lift_db.local.target import resolve_target

Conn = psycopg.Connection[TupleRow]

# The schemas the API exposes (supabase/config.toml [api] schemas).
EXPOSED_SCHEMAS = ("public", "graphql_public")


def env_int(name: str, default: int, minimum: int = 1) -> int:
    """A positive integer knob from the environment (fuzz sizes), refusing nonsense clearly."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, not {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {value}")
    return value


# How hard the fuzzers try. The defaults keep `make test` within the CI budget; `make fuzz`
# raises them (see docs/reliability.md).
FUZZ_EXAMPLES = env_int("LIFT_FUZZ_EXAMPLES", 40)
FUZZ_STEPS = env_int("LIFT_FUZZ_STEPS", 50)
CRASH_ROUNDS = env_int("LIFT_CRASH_ROUNDS", 4)


def database_url() -> str:
    """The database the suite tests: the local stack, or DATABASE_URL."""
    return resolve_target(find_project(Path(__file__))).url


def act_as(conn: Conn, role: str, user_id: uuid.UUID | None = None) -> None:
    """What PostgREST does at the start of a request's transaction."""
    claims: dict[str, Any] = {"role": role}
    if user_id is not None:
        claims.update(sub=str(user_id), aud="authenticated")
    conn.execute(
        "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)",
        (role, json.dumps(claims)),
    )


@contextmanager
def as_role(conn: Conn, role: str, user_id: uuid.UUID | None = None) -> Iterator[Conn]:
    """One API request: a transaction acting as `role` (and user), committed if it succeeds."""
    with conn.transaction():
        act_as(conn, role, user_id)
        yield conn


def create_auth_user(
    conn: Conn, label: str, *, provider: str = "email", meta: dict[str, Any] | None = None
) -> uuid.UUID:
    """A user as Supabase Auth creates it (profile by trigger); `conn` connects as postgres."""
    uid = uuid.uuid4()
    conn.execute(
        "insert into auth.users (id, aud, role, email, raw_app_meta_data, raw_user_meta_data,"
        " created_at, updated_at) values (%s, 'authenticated', 'authenticated', %s, %s, %s,"
        " now(), now())",
        (
            uid,
            f"{label}-{uid.hex[:8]}@reliability.lift-sys.dev",
            Jsonb({"provider": provider, "providers": [provider]}),
            Jsonb(meta or {}),
        ),
    )
    return uid


def delete_auth_users(conn: Conn, ids: list[uuid.UUID]) -> None:
    if ids:
        conn.execute("delete from auth.users where id = any(%s)", (ids,))


@dataclass(frozen=True)
class Snapshot:
    """Content and privileges of the app's data: equal snapshots, unchanged database."""

    tables: dict[str, _checksums.TableDigest]
    privileges: list[str]
    catalog: list[str]


_CATALOG = """
select 'relation ' || c.oid::regclass::text || ' ' || c.relkind::text
       || ' rls=' || c.relrowsecurity::text
  from pg_catalog.pg_class as c
 where c.relnamespace::regnamespace::text = any(%(s)s)
union all
select 'function ' || p.oid::regprocedure::text || ' definer=' || p.prosecdef::text
  from pg_catalog.pg_proc as p where p.pronamespace::regnamespace::text = any(%(s)s)
union all
select 'policy ' || p.schemaname || '.' || p.tablename || '.' || p.policyname
  from pg_catalog.pg_policies as p where p.schemaname = any(%(s)s)
union all
select 'trigger ' || t.tgrelid::regclass::text || '.' || t.tgname || ' ' || t.tgenabled::text
  from pg_catalog.pg_trigger as t where not t.tgisinternal
union all
select 'role ' || r.rolname || ' super=' || r.rolsuper::text
       || ' bypassrls=' || r.rolbypassrls::text
  from pg_catalog.pg_roles as r where r.rolname !~ '^pg_'
order by 1
"""


def snapshot(conn: Conn) -> Snapshot:
    """Row counts and checksums, grants, and the app's catalog objects (as postgres)."""
    with conn.transaction():
        conn.execute("set transaction isolation level repeatable read")
        conn.execute("set local search_path = ''")
        tables = _checksums.digest(conn)
        privileges = _checksums.privileges(conn)
        schemas = _checksums.app_schemas(conn)
        catalog = [str(r[0]) for r in conn.execute(_CATALOG, {"s": schemas}).fetchall()]
    return Snapshot(tables, privileges, catalog)


# Every session's IR history must be whole: version 1..ir_version with no gap or duplicate, the
# current IR equal to the newest snapshot, and no history row without its session.
_HISTORY_VIOLATIONS = """
with h as (
  select session_id, count(*) as n, count(distinct version) as distinct_versions,
         min(version) as first, max(version) as last
    from public.session_history group by session_id
)
select format('session %s: ir_version %s, history %s rows, versions %s..%s (%s distinct)',
              s.id, s.ir_version, coalesce(h.n, 0), h.first, h.last, h.distinct_versions)
  from public.sessions as s
  left join h on h.session_id = s.id
 where s.ir_version <> coalesce(h.last, 0)
    or coalesce(h.n, 0) <> s.ir_version
    or coalesce(h.distinct_versions, 0) <> s.ir_version
    or (h.first is not null and h.first <> 1)
union all
select format('session %s: current_ir differs from the snapshot of version %s', s.id, s.ir_version)
  from public.sessions as s
  join public.session_history as sh on sh.session_id = s.id and sh.version = s.ir_version
 where s.current_ir is distinct from sh.ir_snapshot
union all
select format('session %s: ir_version 0 but current_ir is set', s.id)
  from public.sessions as s where s.ir_version = 0 and s.current_ir is not null
union all
select format('history row (%s, %s) has no session', sh.session_id, sh.version)
  from public.session_history as sh
 where not exists (select from public.sessions as s where s.id = sh.session_id)
union all
select format('session %s has no profile', s.id)
  from public.sessions as s
 where not exists (select from public.users as u where u.id = s.user_id)
"""


def history_violations(conn: Conn) -> list[str]:
    """Every way the sessions' IR histories are not whole (empty when they are)."""
    return [str(r[0]) for r in conn.execute(_HISTORY_VIOLATIONS).fetchall()]


# -- functions in the catalog -------------------------------------------------------------------


@dataclass(frozen=True)
class Function:
    oid: int
    signature: str  # regprocedure text, schema-qualified
    schema: str
    name: str
    arg_types: list[str]
    kind: str
    returns_trigger: bool
    security_definer: bool
    config: list[str]
    arg_names: list[str]
    defaults: int  # how many trailing arguments have defaults


def functions(conn: Conn, schemas: list[str]) -> list[Function]:
    """Every function and procedure of these schemas that no extension owns."""
    conn.execute("set search_path = ''")
    try:
        rows = conn.execute(
            "select p.oid, p.oid::regprocedure::text, n.nspname, p.proname,"
            "       array(select format_type(t, null) from unnest(p.proargtypes) as t),"
            "       p.prokind::text, p.prorettype = 'pg_catalog.trigger'::regtype, p.prosecdef,"
            "       coalesce(p.proconfig, '{}'),"
            "       coalesce(p.proargnames[1:p.pronargs], '{}'), p.pronargdefaults"
            "  from pg_catalog.pg_proc as p"
            "  join pg_catalog.pg_namespace as n on n.oid = p.pronamespace"
            " where n.nspname = any(%s)"
            "   and not exists (select from pg_catalog.pg_depend as d"
            "                    where d.classid = 'pg_catalog.pg_proc'::regclass"
            "                      and d.objid = p.oid and d.deptype = 'e')"
            " order by 2",
            (schemas,),
        ).fetchall()
    finally:
        conn.execute("reset search_path")
    return [Function(*r) for r in rows]


def executable(conn: Conn, role: str, function: Function) -> bool:
    row = conn.execute(
        "select has_function_privilege(%s, %s, 'execute')", (role, function.oid)
    ).fetchone()
    return bool(row and row[0])
