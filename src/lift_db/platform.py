"""The platform layer (`sql/platform.sql`): what a Supabase database has and a plain PostgreSQL
lacks.

On the local server it is applied together with the local logins (`sql/platform-local.sql`:
`postgres` and `authenticator` log in with the password `postgres`, as on the Supabase CLI's
local stack). Any other database is never given a role, a login or a password unasked: lift-db
refuses, naming what the database lacks, unless `--install-platform` asks it to create the
missing parts, and then every role it creates is NOLOGIN without a password.
"""

from __future__ import annotations

from importlib.resources import files

import psycopg
from psycopg.rows import TupleRow

from lift_db.errors import LiftDbError

LAYER_SQL = files("lift_db").joinpath("sql/platform.sql")
LOCAL_LOGINS_SQL = files("lift_db").joinpath("sql/platform-local.sql")

# Everything of a Supabase database that the app's migrations and tests rely on, in the order a
# message names them.
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


def has_platform_layer(conn: psycopg.Connection[TupleRow]) -> bool:
    return not missing_parts(conn)


def ensure_platform_layer(conn: psycopg.Connection[TupleRow]) -> bool:
    """On the local server: install the layer where it is missing; True when it was installed now.

    A real Supabase database already has it and is left untouched.
    """
    if has_platform_layer(conn):
        return False
    apply_platform_layer(conn)
    return True


def apply_platform_layer(conn: psycopg.Connection[TupleRow]) -> None:
    """The layer and the local logins, for the local server only."""
    _apply(conn, LAYER_SQL.read_text() + "\n" + LOCAL_LOGINS_SQL.read_text())


def require_platform_layer(conn: psycopg.Connection[TupleRow], install: bool) -> list[str]:
    """On any database but the local server: refuse one that lacks the layer, unless `install`.

    Returns the parts that were missing and have now been created (without logins or passwords).
    """
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
    _apply(conn, LAYER_SQL.read_text())
    return missing


def _apply(conn: psycopg.Connection[TupleRow], sql: str) -> None:
    try:
        with conn.transaction():
            conn.execute(sql.encode())
    except psycopg.errors.InsufficientPrivilege as exc:
        raise LiftDbError(
            f"this database lacks the Supabase platform layer and the connecting role cannot "
            f"install it: {exc.diag.message_primary}",
            "point --db-url at a Supabase stack (`supabase start`), or at a superuser URL",
        ) from exc
