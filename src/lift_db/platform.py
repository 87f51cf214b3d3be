"""Apply the platform layer (`sql/platform.sql`) to a database that lacks it."""

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


def has_platform_layer(conn: psycopg.Connection[TupleRow]) -> bool:
    row = conn.execute(_PRESENT).fetchone()
    return bool(row and row[0])


def ensure_platform_layer(conn: psycopg.Connection[TupleRow]) -> bool:
    """Install the layer where it is missing; True when it was installed now.

    A real Supabase database already has it and is left untouched.
    """
    if has_platform_layer(conn):
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
