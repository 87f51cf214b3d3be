"""Partitions made at run time, which are the data's shape rather than the schema's.

`private.maintain_analytics_events_partitions` (a daily job; the seed runs it too) adds monthly
partitions of `public.analytics_events`. They are not in any migration, so `lift-db drift` does
not report them and `lift-db diff` leaves them out unless asked (`--with-partitions`). A run-time
partition is a partition, not in the schema the migrations build, of a table that is.
"""

from __future__ import annotations

import re

import psycopg
from psycopg.rows import TupleRow

Conn = psycopg.Connection[TupleRow]

_PARTITIONS = """
select format('%I.%I', n.nspname, c.relname), format('%I.%I', pn.nspname, p.relname)
  from pg_catalog.pg_inherits as i
  join pg_catalog.pg_class as c on c.oid = i.inhrelid
  join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
  join pg_catalog.pg_class as p on p.oid = i.inhparent
  join pg_catalog.pg_namespace as pn on pn.oid = p.relnamespace
 where c.relkind in ('r', 'p')
"""
_INDEXES = """
select format('%%I.%%I', n.nspname, ic.relname)
  from pg_catalog.pg_index as x
  join pg_catalog.pg_class as ic on ic.oid = x.indexrelid
  join pg_catalog.pg_namespace as n on n.oid = ic.relnamespace
 where x.indrelid = any (%s::regclass[])
"""
TABLES = """
select format('%I.%I', n.nspname, c.relname)
  from pg_catalog.pg_class as c
  join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
 where c.relkind in ('r', 'p')
"""


def find(conn: Conn, reference_tables: set[str]) -> tuple[list[str], list[str]]:
    """The run-time partitions on `conn` and their indexes (schema-qualified, as `%I.%I`)."""
    partitions = sorted(
        str(child)
        for child, parent in conn.execute(_PARTITIONS).fetchall()
        if parent in reference_tables and child not in reference_tables
    )
    indexes = [str(r[0]) for r in conn.execute(_INDEXES, (partitions,)).fetchall()]
    return partitions, indexes


def tables(conn: Conn) -> set[str]:
    return {str(r[0]) for r in conn.execute(TABLES).fetchall()}


def mentions(names: list[str]) -> re.Pattern[str] | None:
    """Matches SQL naming any of `names` (quoted or not); None when there are none."""
    if not names:
        return None
    unquoted = {n.replace('"', "") for n in names}
    alternatives = "|".join(sorted(map(re.escape, unquoted), key=len, reverse=True))
    return re.compile(rf"(?<![\w.])(?:{alternatives})(?![\w$])")


def named_in(pattern: re.Pattern[str] | None, sql: str) -> bool:
    return pattern is not None and pattern.search(sql.replace('"', "")) is not None
