"""Apply the platform layer (`sql/platform.sql`) to a database that lacks it or has an old one."""

from __future__ import annotations

from importlib.resources import files

import psycopg
from psycopg.rows import TupleRow

from lift_db.errors import LiftDbError

LAYER_SQL = files("lift_db.local").joinpath("sql/platform.sql")
# The local server's logins (`postgres` and `authenticator`, password `postgres`, as on the
# Supabase CLI's local stack): applied with the layer on the local server, nowhere else.
LOCAL_LOGINS_SQL = files("lift_db.local").joinpath("sql/platform-local.sql")

_PRESENT = """
select pg_catalog.to_regprocedure('auth.uid()') is not null
   and pg_catalog.to_regnamespace('extensions') is not null
   and exists (select from pg_catalog.pg_roles where rolname = 'service_role')
   and exists (select from pg_catalog.pg_publication where pubname = 'supabase_realtime')
"""

# The layer's revision, as the comment on schema `extensions` records it (sql/platform.sql).
LAYER_VERSION = 2
# An older revision of this layer: its marker names a lower number, or it has none and its
# auth.uid() still carries the SET clause the first revision gave it (Supabase's has none).
_OUTDATED = """
select coalesce(
  (select pg_catalog.substring(d.description, '^lift-db platform layer ([0-9]+)$')::int < %s
     from pg_catalog.pg_description as d
    where d.classoid = 'pg_catalog.pg_namespace'::pg_catalog.regclass
      and d.objoid = pg_catalog.to_regnamespace('extensions')
      and d.objsubid = 0),
  (select p.proconfig is not null
     from pg_catalog.pg_proc as p
    where p.oid = pg_catalog.to_regprocedure('auth.uid()')),
  false
)
"""


def has_platform_layer(conn: psycopg.Connection[TupleRow]) -> bool:
    row = conn.execute(_PRESENT).fetchone()
    return bool(row and row[0])


def has_outdated_platform_layer(conn: psycopg.Connection[TupleRow]) -> bool:
    row = conn.execute(_OUTDATED, (LAYER_VERSION,)).fetchone()
    return bool(row and row[0])


def ensure_platform_layer(conn: psycopg.Connection[TupleRow]) -> bool:
    """Install the layer where it is missing or older than this one; True when applied now.

    A real Supabase database already has the platform and is left untouched.
    """
    if has_platform_layer(conn) and not has_outdated_platform_layer(conn):
        return False
    apply_platform_layer(conn)
    return True


def apply_platform_layer(conn: psycopg.Connection[TupleRow], local: bool = True) -> None:
    """The layer, with the local server's logins unless `local` is False (another database)."""
    sql = LAYER_SQL.read_text()
    if local:
        sql += "\n" + LOCAL_LOGINS_SQL.read_text()
    try:
        with conn.transaction():
            conn.execute(sql.encode())
    except psycopg.errors.InsufficientPrivilege as exc:
        raise LiftDbError(
            f"this database lacks the Supabase platform layer and the connecting role cannot "
            f"install it: {exc.diag.message_primary}",
            "point --db-url at a Supabase stack (`supabase start`), or at a superuser URL",
        ) from exc


# Another database (--db-url) is never given a role, a login or a password unasked. Everything
# of a Supabase database that the app's migrations and tests rely on, in the order a message
# names it:
_MISSING = """
select part from (
  select 1, 'role ' || r from unnest(array['postgres', 'anon', 'authenticated', 'service_role',
                                            'authenticator', 'supabase_auth_admin']) as r
   where not exists (select from pg_catalog.pg_roles where rolname = r)
  union all
  select 2, 'schema ' || s from unnest(array['auth', 'extensions']) as s
   where pg_catalog.to_regnamespace(s) is null
  union all
  select 3, 'table ' || t from unnest(array['auth.users', 'auth.identities']) as t
   where pg_catalog.to_regclass(t) is null
  union all
  select 4, 'function ' || f
    from unnest(array['auth.uid()', 'auth.role()', 'auth.email()', 'auth.jwt()']) as f
   where pg_catalog.to_regprocedure(f) is null
  union all
  select 5, 'publication supabase_realtime'
   where not exists (select from pg_catalog.pg_publication where pubname = 'supabase_realtime')
) as missing (ord, part)
order by ord, part
"""


def missing_parts(conn: psycopg.Connection[TupleRow]) -> list[str]:
    """What the database lacks of the platform layer, e.g. `role anon`, `function auth.uid()`."""
    return [str(row[0]) for row in conn.execute(_MISSING).fetchall()]


def require_platform_layer(conn: psycopg.Connection[TupleRow], install: bool) -> list[str]:
    """On any database but the local server: refuse one that lacks the layer, naming what it
    lacks, unless `install` (`--install-platform`) says to create the missing parts; every role
    created then is NOLOGIN without a password. Returns the parts created."""
    missing = missing_parts(conn)
    if not missing:
        return []
    if not install:
        raise LiftDbError(
            "this database is not a Supabase database: it lacks "
            f"{', '.join(missing)}. lift-db creates roles and passwords only on its own local "
            "server, never on a database named by --db-url or DATABASE_URL",
            "point --db-url at a Supabase database (`supabase start`, or a Supabase project); "
            "or, on a database you own, add --install-platform to create what is missing: its "
            "roles cannot log in and have no password",
        )
    apply_platform_layer(conn, local=False)
    return missing
