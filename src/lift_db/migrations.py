"""The migration runner: `supabase/migrations/<digits>_<name>.sql`, applied like `supabase db push`.

Each file runs in one transaction together with its row in
`supabase_migrations.schema_migrations (version, statements, name)`, after `RESET ALL`, exactly as
the CLI does. Beyond the CLI, the runner keeps a checksum of every applied file in
`supabase_migrations.migration_checksums` and refuses to go on when an applied file was edited,
renamed or removed, or when a new file sorts before the last applied one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.rows import TupleRow

from lift_db.errors import (
    MigrationDriftError,
    MigrationError,
    MigrationFailedError,
    MigrationNameError,
)
from lift_db.sqlsplit import Statement, split_statements

FILE_NAME = re.compile(r"^(?P<version>\d+)_(?P<name>[^/]+)\.sql$")
_TXN_CONTROL = re.compile(
    r"^(begin|start\s+transaction|commit|end|rollback|abort)(\s+(work|transaction))?$",
    re.IGNORECASE,
)
# Serialises concurrent `lift-db migrate` runs against one database.
_LOCK_KEY = 0x6C696674  # "lift"

HISTORY_DDL = """
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (
  version text not null primary key
);
alter table supabase_migrations.schema_migrations add column if not exists statements text[];
alter table supabase_migrations.schema_migrations add column if not exists name text;
create table if not exists supabase_migrations.seed_files (
  path text not null primary key,
  hash text not null
);
create table if not exists supabase_migrations.migration_checksums (
  version text not null primary key,
  name text not null,
  sha256 text not null,
  applied_at timestamptz not null default now()
);
"""


@dataclass(frozen=True)
class MigrationFile:
    version: str
    name: str
    path: Path
    sql: str

    @property
    def filename(self) -> str:
        return self.path.name

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self) -> list[Statement]:
        return split_statements(self.sql)


@dataclass(frozen=True)
class AppliedMigration:
    version: str
    name: str | None
    statements: list[str] | None
    sha256: str | None


def discover(migrations_dir: Path) -> list[MigrationFile]:
    """The migration files in version order; a misnamed or duplicated file is an error."""
    if not migrations_dir.is_dir():
        return []
    found: dict[str, MigrationFile] = {}
    for path in sorted(migrations_dir.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        if path.suffix.lower() != ".sql":
            continue
        match = FILE_NAME.match(path.name)
        if match is None:
            raise MigrationNameError(
                f"migration file {path.name} does not match <digits>_<name>.sql",
                "rename it to e.g. 20250101120000_describe_the_change.sql "
                "(`supabase migration new <name>` creates one)",
            )
        version = match["version"]
        if version in found:
            raise MigrationNameError(
                f"migration files {found[version].filename} and {path.name} share version "
                f"{version}",
                "give the newer one a later timestamp",
            )
        try:
            sql = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise MigrationError(f"migration file {path.name} is not valid UTF-8: {exc}") from exc
        found[version] = MigrationFile(version, match["name"], path, sql)
    return sorted(found.values(), key=lambda m: int(m.version))


def ensure_history(conn: psycopg.Connection[TupleRow]) -> None:
    with conn.transaction():
        conn.execute(HISTORY_DDL.encode())


def applied(conn: psycopg.Connection[TupleRow]) -> list[AppliedMigration]:
    # A database deployed by the Supabase CLI alone has history but no checksum table yet.
    row = conn.execute(
        "select to_regclass('supabase_migrations.migration_checksums') is not null"
    ).fetchone()
    if row and row[0]:
        query = """
            select m.version, m.name, m.statements, c.sha256
              from supabase_migrations.schema_migrations m
              left join supabase_migrations.migration_checksums c using (version)
        """
    else:
        query = "select version, name, statements, null from supabase_migrations.schema_migrations"
    rows = conn.execute(query).fetchall()
    result = [AppliedMigration(str(r[0]), r[1], r[2], r[3]) for r in rows]
    return sorted(result, key=lambda m: int(m.version))


def check_drift(files: list[MigrationFile], history: list[AppliedMigration]) -> list[str]:
    """Refuse when history and files disagree; returns versions whose checksum may be adopted.

    A version applied by the Supabase CLI has no checksum yet: if its recorded statements equal
    the file's, the file is unchanged and its checksum is recorded; otherwise it was edited.
    """
    by_version = {f.version: f for f in files}
    adopt: list[str] = []
    for row in history:
        label = f"{row.version}_{row.name}.sql" if row.name else row.version
        file = by_version.get(row.version)
        if file is None:
            raise MigrationDriftError(
                f"migration {label} was applied to this database but its file is gone "
                "(removed or renamed)",
                "restore the file as it was; change the schema with a new migration",
            )
        if row.name is not None and row.name != file.name:
            raise MigrationDriftError(
                f"migration {label} was applied but the file is now named {file.filename}",
                "restore the original file name; a deployed migration is never renamed",
            )
        if row.sha256 is not None:
            if row.sha256 != file.sha256:
                raise _edited(file)
        elif row.statements is not None:
            if row.statements != [s.text for s in file.statements()]:
                raise _edited(file)
            adopt.append(row.version)
    if history:
        last = history[-1]
        applied_versions = {r.version for r in history}
        for file in files:
            if file.version not in applied_versions and int(file.version) < int(last.version):
                raise MigrationDriftError(
                    f"new migration {file.filename} sorts before {last.version}_{last.name}.sql, "
                    "which is already applied",
                    "rename the new file with a timestamp later than every applied migration",
                )
    return adopt


def _edited(file: MigrationFile) -> MigrationDriftError:
    return MigrationDriftError(
        f"migration {file.filename} was edited after it was applied (checksum differs)",
        "restore it as it was (git checkout) and put the change in a new migration",
    )


def pending(files: list[MigrationFile], history: list[AppliedMigration]) -> list[MigrationFile]:
    done = {r.version for r in history}
    return [f for f in files if f.version not in done]


def migrate(
    conn: psycopg.Connection[TupleRow],
    files: list[MigrationFile],
    report: Callable[[str], None] = lambda _: None,
) -> list[MigrationFile]:
    """Apply every pending migration, each in its own transaction; returns those applied."""
    ensure_history(conn)
    conn.execute("select pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        history = applied(conn)
        for version in check_drift(files, history):
            file = next(f for f in files if f.version == version)
            _record_checksum(conn, file)
        todo = pending(files, history)
        for file in todo:
            apply_one(conn, file)
            report(f"applied {file.filename}")
        return todo
    finally:
        conn.execute("select pg_advisory_unlock(%s)", (_LOCK_KEY,))


def apply_one(conn: psycopg.Connection[TupleRow], file: MigrationFile) -> None:
    statements = file.statements()
    for stmt in statements:
        if _TXN_CONTROL.match(stmt.text.strip()):
            raise MigrationError(
                f"migration {file.filename} line {stmt.line}: `{stmt.text}` manages the "
                "transaction itself",
                "remove it: each migration file already runs in one transaction",
            )
    conn.execute("reset all")
    current: Statement | None = None
    try:
        with conn.transaction():
            for current in statements:
                conn.execute(current.text.encode())
            conn.execute(
                "insert into supabase_migrations.schema_migrations (version, name, statements)"
                " values (%s, %s, %s)",
                (file.version, file.name, [s.text for s in statements]),
            )
            _record_checksum(conn, file)
    except psycopg.Error as exc:
        raise _failure(file, current, exc) from exc
    finally:
        conn.execute("reset all")


def _record_checksum(conn: psycopg.Connection[TupleRow], file: MigrationFile) -> None:
    conn.execute(
        "insert into supabase_migrations.migration_checksums (version, name, sha256)"
        " values (%s, %s, %s)"
        " on conflict (version) do update set name = excluded.name, sha256 = excluded.sha256",
        (file.version, file.name, file.sha256),
    )


def _failure(
    file: MigrationFile, stmt: Statement | None, exc: psycopg.Error
) -> MigrationFailedError:
    diag = exc.diag
    message = diag.message_primary or str(exc).strip()
    where = f"migration {file.filename}"
    line = stmt.line if stmt else None
    if stmt is not None and diag.statement_position:
        offset = int(diag.statement_position) - 1
        line = stmt.line + stmt.text[:offset].count("\n")
    if line is not None:
        where += f" line {line}"
    detail = ""
    if diag.sqlstate:
        detail += f" [SQLSTATE {diag.sqlstate}]"
    if diag.message_detail:
        detail += f"\n  detail: {diag.message_detail}"
    if diag.message_hint:
        detail += f"\n  hint: {diag.message_hint}"
    snippet = ""
    if stmt is not None:
        code = [
            ln for ln in stmt.text.splitlines() if ln.strip() and not ln.lstrip().startswith("--")
        ]
        snippet = f"\n  statement: {code[0].strip()[:120] if code else stmt.text[:120]}"
    return MigrationFailedError(
        f"{where}: {message}{detail}{snippet}\n"
        f"  {file.filename} was rolled back; migrations before it stay applied",
        f"fix {file.filename} and run `lift-db migrate` again",
    )
