"""`lift-db drift`: does a live database hold exactly what its migrations build?

The reference is built on a scratch database of the local server: the platform layer, dumped,
then the migrations the live database has applied (its `supabase_migrations.schema_migrations`;
all of them when it has no history), dumped again. What the migrations own is what they added to
or changed in that dump: the app's schemas (`public` and every schema a migration creates) and
their attachments to platform objects (triggers on `auth.users`, publication membership, grants).

The live database is dumped the same way and compared entry by entry:
- an owned object missing on the live database, or stated differently there, is drift;
- an object the migrations do not know is drift when it lives in an app schema, or is a trigger
  (on any table) that calls an app function;
- everything else is the platform's (a real Supabase project has many more objects than the
  local platform layer) and is not compared; the platform's schemas where the migrations own
  nothing are not even dumped (`PLATFORM_SCHEMAS`). Neither are the test harness's objects
  (schema `tests`, extension `pgtap`), nor partitions created at run time of a partitioned table
  the migrations own (private.maintain_analytics_events_partitions makes them on schedule);
- NOT NULL constraints are compared without their names, which only PostgreSQL 18 records.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
from psycopg.rows import TupleRow

from lift_db.errors import LiftDbError
from lift_db.local.platform_layer import ensure_platform_layer
from lift_db.local.server import LocalServer
from lift_db.local.target import connect, redact
from lift_db.migrate import runner
from lift_db.migrate.runner import MigrationFile
from lift_db.review import _runtime_partitions, _schema_entries, _snapshot
from lift_db.review._schema_entries import Difference, Key

Report = Callable[[str], None]
Conn = psycopg.Connection[TupleRow]


# Schemas the platform manages on a Supabase project, some of them unreadable to `postgres`: the
# live database's dump leaves out those where the migrations own nothing, as `supabase db dump`
# leaves them out.
PLATFORM_SCHEMAS = frozenset(
    ("_analytics", "_realtime", "_supavisor", "auth", "cron", "dbdev", "graphql",
     "graphql_public", "net", "pgbouncer", "pgmq", "pgsodium", "pgsodium_masks", "pgtle",
     "realtime", "repack", "storage", "supabase_functions", "tiger", "tiger_data", "topology",
     "vault")
)  # fmt: skip

# PostgreSQL 18 names NOT NULL constraints and pg_dump prints a name it cannot derive (a
# partition's, inherited from its parent); production's 17 has no such names. The local reference
# is built on 18: compare NOT NULL without its name.
_NAMED_NOT_NULL = re.compile(r' CONSTRAINT (?:"(?:[^"]|"")+"|[\w$]+) NOT NULL\b')


def version_neutral(entries: dict[Key, str]) -> dict[Key, str]:
    return {k: _NAMED_NOT_NULL.sub(" NOT NULL", v) for k, v in entries.items()}


class DriftError(LiftDbError):
    """The live database differs from what its migrations build."""


@dataclass
class DriftReport:
    differences: list[Difference] = field(default_factory=list)
    applied: int = 0
    pending: list[str] = field(default_factory=list)  # files not applied yet (a push adds them)
    unknown: list[str] = field(default_factory=list)  # applied versions with no file
    runtime_partitions: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.differences and not self.unknown


def _history(conn: Conn) -> list[str] | None:
    row = conn.execute(
        "select pg_catalog.to_regclass('supabase_migrations.schema_migrations') is not null"
    ).fetchone()
    if not row or not row[0]:
        return None
    return [m.version for m in runner.applied(conn)]


def reference(server: LocalServer, files: list[MigrationFile]) -> tuple[dict[Key, str], set[Key]]:
    """The schema `files` build (keyed entries), and the keys the migrations own."""
    pg_dump = server.install.bin("pg_dump")
    with _snapshot.scratch_database(server) as dbname:
        with connect(server.admin_url(dbname)) as conn:
            ensure_platform_layer(conn)
        baseline = _schema_entries.read(pg_dump, server.admin_url(dbname))
        with connect(server.url(dbname=dbname)) as conn:
            runner.migrate(conn, files)
        built = _schema_entries.read(pg_dump, server.admin_url(dbname))
    owned = {
        key for key, text in built.items() if baseline.get(key) != text or key.type == "EXTENSION"
    }
    return built, owned


def app_schemas(owned: set[Key]) -> set[str]:
    return {"public"} | {k.name for k in owned if k.type == "SCHEMA"}


def check(
    server: LocalServer, files: list[MigrationFile], live_url: str, report: Report
) -> DriftReport:
    result = DriftReport()
    with connect(live_url) as conn:
        history = _history(conn)
    if history is None:
        report("the database has no migration history: comparing with every migration")
        chosen = files
    else:
        known = {f.version for f in files}
        result.unknown = [v for v in history if v not in known]
        chosen = [f for f in files if f.version in set(history)]
        result.pending = [f.filename for f in files if f.version not in set(history)]
    result.applied = len(chosen)
    built, owned = reference(server, chosen)
    built = version_neutral(built)
    schemas = app_schemas(owned)
    unowned = PLATFORM_SCHEMAS - schemas - {k.schema for k in owned}
    live = version_neutral(
        _schema_entries.read(server.install.bin("pg_dump"), live_url, exclude=unowned)
    )

    known_tables = {f"{k.schema}.{k.name}" for k in built if k.type == "TABLE"}
    with connect(live_url) as conn:
        quoted = {t for t in _runtime_partitions.tables(conn) if t.replace('"', "") in known_tables}
        runtime, indexes = _runtime_partitions.find(conn, quoted)
    result.runtime_partitions = runtime
    of_runtime_partition = _runtime_partitions.mentions(runtime + indexes)
    alternatives = "|".join(sorted(map(re.escape, schemas), key=len, reverse=True))
    app_function = re.compile(rf'(?<![\w"])(?:{alternatives})\.')

    for key in sorted(owned, key=lambda k: (k.schema, k.type, k.name)):
        if live.get(key) != built[key]:
            result.differences.append(Difference(key, built[key], live.get(key)))
    for key, text in sorted(live.items(), key=lambda kv: (kv[0].schema, kv[0].type, kv[0].name)):
        if key in built:
            continue
        body = _schema_entries.body_of(text)
        if _runtime_partitions.named_in(of_runtime_partition, body):
            continue
        in_app = key.schema in schemas or (
            key.schema == "-" and key.name.removeprefix("SCHEMA ") in schemas
        )
        calls_app = key.type == "TRIGGER" and bool(
            app_function.search(body.split(" EXECUTE ", 1)[-1])
        )
        if in_app or calls_app:
            result.differences.append(Difference(key, None, text))
    return result


def render(result: DriftReport, live_url: str) -> list[str]:
    lines: list[str] = []
    where = redact(live_url)
    for version in result.unknown:
        lines.append(f"applied on {where} but missing from supabase/migrations: version {version}")
    for difference in result.differences:
        lines.append(difference.render("the migrations", where))
    if result.runtime_partitions:
        lines.append(
            f"not compared: {len(result.runtime_partitions)} partition(s) created at run time "
            f"({', '.join(result.runtime_partitions[:5])}"
            f"{', …' if len(result.runtime_partitions) > 5 else ''})"
        )
    if result.pending:
        lines.append(
            f"pending (not applied on {where}, not compared): {len(result.pending)} migration(s),"
            f" from {result.pending[0]}"
        )
    return lines
