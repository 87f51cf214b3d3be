"""Apply the platform layer (`sql/platform.sql`) to a database that lacks it or has an old one."""

from __future__ import annotations

from importlib.resources import files

import psycopg
from psycopg.rows import TupleRow

from lift_db.errors import LiftDbError

LAYER_SQL = files("lift_db").joinpath("sql/platform.sql")

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


def apply_platform_layer(conn: psycopg.Connection[TupleRow]) -> None:
    sql = LAYER_SQL.read_text()
    try:
        with conn.transaction():
            conn.execute(sql.encode())
    except psycopg.errors.InsufficientPrivilege as exc:
        raise LiftDbError(
            f"this database lacks the Supabase platform layer and the connecting role cannot "
            f"install it: {exc.diag.message_primary}",
            "point --db-url at a Supabase stack (`supabase start`), or at a superuser URL",
        ) from exc
