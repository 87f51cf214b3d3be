"""The benchmark's own database on the local server: created fresh, never the dev database.

A run drops and recreates `lift_bench` (or another `lift_bench*` name) as the local superuser,
installs the platform layer and applies every migration, exactly as `lift-db reset` does for
the dev database, but with no seed. The name is checked so that no option can point the
benchmark at a database it would destroy by mistake.
"""

from __future__ import annotations

import os
import platform
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, LiteralString

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from lift_db.errors import LiftDbError
from lift_db.local.project import Project
from lift_db.local.server import LocalServer
from lift_db.local.target import Target, connect
from lift_db.migrate import commands, runner

DEFAULT_NAME = "lift_bench"
_NAME = re.compile(r"^lift_bench[a-z0-9_]{0,40}$")

Conn = psycopg.Connection[TupleRow]
Report = commands.Report


def one(conn: Conn, query: LiteralString, params: Any = None) -> tuple[Any, ...]:
    """The single row a query must return."""
    row = conn.execute(query, params).fetchone()
    if row is None:
        raise LiftDbError(f"benchmark query returned no row: {query.strip()[:80]}")
    return row


@dataclass(frozen=True)
class BenchDatabase:
    name: str
    url: str  # as `postgres`, the role the app and the store connect as
    admin_url: str  # as the local superuser, for bulk loading and maintenance

    def connect(self, admin: bool = False) -> Conn:
        return connect(self.admin_url if admin else self.url)


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise LiftDbError(
            f"benchmark database name {name!r} is not allowed",
            "use a name starting with lift_bench (lowercase letters, digits, underscores): "
            "the benchmark drops and recreates it",
        )
    return name


def local_server(project: Project) -> LocalServer:
    server = LocalServer.for_project(project)
    if not server.is_running():
        raise LiftDbError(
            "the local server is not running",
            "run `make db` first (the benchmark creates its own database on that server)",
        )
    return server


def create(project: Project, name: str, report: Report) -> BenchDatabase:
    """Drop and recreate the benchmark database with the platform layer and every migration."""
    server = local_server(project)
    target = Target(
        url=server.url(dbname=check_name(name)), admin_url=server.admin_url(name), local=server
    )
    files = runner.discover(project.migrations_dir)
    commands.recreate_database(target, report)
    commands.prepare(target, report)
    with target.connect() as conn:
        applied = runner.migrate(conn, files, lambda _: None)
    report(f"applied {len(applied)} migrations to {name}")
    return BenchDatabase(name=name, url=target.url, admin_url=server.admin_url(name))


def drop(project: Project, name: str) -> None:
    server = local_server(project)
    with connect(server.admin_url()) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(
                sql.Identifier(check_name(name))
            )
        )


# -- what has landed: the benchmark measures what the schema has, found through the catalog ----

_VECTOR_COLUMNS = """
select c.relname, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)
  from pg_catalog.pg_attribute as a
  join pg_catalog.pg_class as c on c.oid = a.attrelid
  join pg_catalog.pg_type as t on t.oid = a.atttypid
 where c.relnamespace = 'public'::regnamespace
   and c.relkind in ('r', 'p')
   and t.typname in ('vector', 'halfvec')
   and a.attnum > 0
   and not a.attisdropped
 order by 1, 2
"""

_PARTITIONED_TABLES = """
select c.relname
  from pg_catalog.pg_class as c
 where c.relnamespace = 'public'::regnamespace
   and c.relkind = 'p'
 order by 1
"""


_FUNCTIONS = """
select n.nspname || '.' || p.proname || '('
       || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')'
  from pg_catalog.pg_proc as p
  join pg_catalog.pg_namespace as n on n.oid = p.pronamespace
 where n.nspname in ('public', 'private')
 order by 1
"""


@dataclass(frozen=True)
class Features:
    vector_columns: list[tuple[str, str, str]]  # (table, column, type) in public
    partitioned_tables: list[str]  # in public
    functions: list[str]  # signatures in public and private, e.g. public.f(integer)

    def has_function(self, prefix: str) -> bool:
        return any(f.startswith(prefix + "(") for f in self.functions)


def detect(conn: Conn) -> Features:
    vectors = [(str(r[0]), str(r[1]), str(r[2])) for r in conn.execute(_VECTOR_COLUMNS)]
    partitioned = [str(r[0]) for r in conn.execute(_PARTITIONED_TABLES)]
    functions = [str(r[0]) for r in conn.execute(_FUNCTIONS)]
    return Features(vector_columns=vectors, partitioned_tables=partitioned, functions=functions)


# -- how much disk the data takes ---------------------------------------------------------------

_SIZES: LiteralString = """
select t.name,
       case when c.relkind = 'p'
            then (select sum(pg_catalog.pg_total_relation_size(p.relid))
                    from pg_catalog.pg_partition_tree(c.oid) as p)
            else pg_catalog.pg_total_relation_size(c.oid) end
  from (values ('sessions', 'public.sessions'),
               ('session_history', 'public.session_history'),
               ('analytics_events', 'public.analytics_events'),
               ('session_embeddings', 'public.session_embeddings')) as t (name, rel)
  join pg_catalog.pg_class as c on c.oid = pg_catalog.to_regclass(t.rel)
"""

_HNSW_SIZE: LiteralString = """
select coalesce(sum(pg_catalog.pg_relation_size(i.indexrelid)), 0)
  from pg_catalog.pg_index as i
  join pg_catalog.pg_class as c on c.oid = i.indexrelid
  join pg_catalog.pg_am as am on am.oid = c.relam
 where am.amname = 'hnsw'
"""


def sizes_mb(conn: Conn) -> dict[str, float]:
    """Tables with their indexes and TOAST (partitions summed), the HNSW indexes, the database."""
    mb = 1024 * 1024
    out = {f"{name}_mb": round(int(size or 0) / mb, 1) for name, size in conn.execute(_SIZES)}
    out["hnsw_index_mb"] = round(int(one(conn, _HNSW_SIZE)[0]) / mb, 1)
    out = {k: v for k, v in out.items() if v > 0}
    out["database_mb"] = round(
        int(one(conn, "select pg_catalog.pg_database_size(current_database())")[0]) / mb, 1
    )
    return out


# -- the machine a run happened on, recorded next to its figures ------------------------------


def machine(conn: Conn) -> dict[str, Any]:
    def setting(name: str) -> str:
        row = conn.execute("select current_setting(%s)", (name,)).fetchone()
        return str(row[0]) if row else "?"

    row = conn.execute(
        "select extversion from pg_catalog.pg_extension where extname = 'vector'"
    ).fetchone()
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "postgres": setting("server_version"),
        "pgvector": str(row[0]) if row else None,
        "shared_buffers": setting("shared_buffers"),
        "work_mem": setting("work_mem"),
        "max_parallel_workers_per_gather": setting("max_parallel_workers_per_gather"),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError):
        pass
    return None
