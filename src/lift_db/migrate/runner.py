"""The migration runner: `supabase/migrations/<digits>_<name>.sql`, applied like `supabase db push`.

Each file runs in one transaction together with its row in
`supabase_migrations.schema_migrations (version, statements, name)`, after `RESET ALL`, exactly as
the CLI does, one statement at a time over the extended protocol (as the CLI sends them, so a
statement never hides a second one). Beyond the CLI, the runner

- keeps a checksum of every applied file in `supabase_migrations.migration_checksums` and refuses
  to go on when an applied file was edited, renamed or removed, when a new file sorts before the
  last applied one, or when history names a file it cannot verify;
- refuses a file that ends, commits or replaces the transaction it runs in: the text is checked
  before anything runs, and the transaction itself after every statement;
- refuses a file that writes the history it is recorded in, or releases the runner's lock;
- takes an advisory lock before it reads or creates any history, and gives up after
  `LIFT_DB_LOCK_TIMEOUT` seconds (default 60) naming the session that holds it.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

import psycopg
from psycopg import pq, sql
from psycopg.rows import TupleRow

from lift_db.errors import (
    MigrationDriftError,
    MigrationError,
    MigrationFailedError,
    MigrationNameError,
)
from lift_db.local import project_files
from lift_db.migrate._sqlsplit import Statement, leading_words, split_statements

# The Supabase CLI's pattern, `^([0-9]+)_(.*)\.sql$`, but with a name: ASCII digits only (`\d`
# would take any script's digits, which the CLI skips).
FILE_NAME = re.compile(r"(?P<version>[0-9]+)_(?P<name>[^/]+)\.sql", re.ASCII)
# Serialises concurrent `lift-db migrate` runs against one database.
_LOCK_KEY = 0x6C696674  # "lift"
APPLICATION_NAME = "lift-db migrate"
LOCK_TIMEOUT_ENV = "LIFT_DB_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT_S = 60.0
# What the runner records applies to, and what no migration may write.
HISTORY_TABLES = ("schema_migrations", "migration_checksums", "seed_files")

_T = TypeVar("_T")


class MigrationFileError(MigrationError):
    """A migration file is a link, not a regular file, outside the project, or not UTF-8."""


class MigrationTransactionError(MigrationError):
    """A migration file ended, committed or replaced the transaction the runner opened for it."""


class MigrationTamperError(MigrationError):
    """A migration file wrote the runner's history or released the runner's lock."""


class MigrationLockTimeoutError(MigrationError):
    """Another session held the migration lock for longer than the lock timeout."""


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


def discover(migrations_dir: Path, root: Path | None = None) -> list[MigrationFile]:
    """The migration files in version order; a misnamed, duplicated or linked file is an error.

    A `.sql` file is a migration exactly when the Supabase CLI would apply it
    (`^[0-9]+_.*\\.sql$`, ASCII digits); any other `.sql` file is refused by name, because the CLI
    would skip it and production would diverge. With `root`, the folder must lie inside it.
    """
    if root is not None and migrations_dir.exists():
        _project_file(
            partial(project_files.check_inside, migrations_dir, root, "migrations folder")
        )
    if not migrations_dir.is_dir():
        return []
    found: dict[str, MigrationFile] = {}
    for path in sorted(migrations_dir.iterdir()):
        if path.name.startswith(".") or not path.name.lower().endswith(".sql"):
            continue
        match = FILE_NAME.fullmatch(path.name)
        if match is None:
            raise MigrationNameError(
                f"migration file {_shown(path.name)} does not match <digits>_<name>.sql "
                "(digits 0-9 only: the Supabase CLI skips any other file)",
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
        text = _project_file(partial(project_files.read_sql, path, "migration file", root))
        found[version] = MigrationFile(version, match["name"], path, text)
    return sorted(found.values(), key=lambda m: int(m.version))


def _shown(name: str) -> str:
    return name if name.isprintable() else ascii(name)


def _project_file(read: Callable[[], _T]) -> _T:
    try:
        return read()
    except project_files.ProjectFileError as exc:
        raise MigrationFileError(exc.message, exc.hint) from exc


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
    for entry in result:
        if not _VERSION.fullmatch(entry.version):
            raise MigrationDriftError(
                f"supabase_migrations.schema_migrations holds version {entry.version!r}, "
                "which no migration file can have (ASCII digits only)",
                "find out who wrote that row; remove it once you know the schema is right",
            )
    return sorted(result, key=lambda m: int(m.version))


_VERSION = re.compile(r"[0-9]+", re.ASCII)


def check_drift(files: list[MigrationFile], history: list[AppliedMigration]) -> list[str]:
    """Refuse when history and files disagree; returns versions whose checksum may be adopted.

    A version applied by the Supabase CLI has no checksum yet: if its recorded statements equal
    the file's, the file is unchanged and its checksum is recorded; otherwise it was edited. A
    row with neither checksum nor statements cannot be verified: it is refused, because such a row
    (written by hand, or by a migration) would make the file count as applied without running.
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
        else:
            raise MigrationDriftError(
                f"history says migration {file.filename} was applied, but its row in "
                "supabase_migrations.schema_migrations has neither a checksum nor the statements "
                "that ran, so nothing shows that this file ran",
                f"if {file.filename} really ran (an old Supabase CLI recorded versions only), "
                f"run `supabase migration repair --status reverted {file.version}` then "
                f"`--status applied {file.version}`, which records its statements; otherwise "
                "`--status reverted` alone, so that the file runs",
            )
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
    """The files still to apply; refuses (as `migrate` would) when history cannot be trusted."""
    check_drift(files, history)
    done = {r.version for r in history}
    return [f for f in files if f.version not in done]


def lock_timeout_from_env() -> float:
    raw = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_LOCK_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 86400:
        raise MigrationError(
            f"{LOCK_TIMEOUT_ENV}={raw!r} is not a number of seconds between 0 and 86400",
            f"unset it (default {DEFAULT_LOCK_TIMEOUT_S:g} s) or give e.g. {LOCK_TIMEOUT_ENV}=300",
        )
    return value


def migrate(
    conn: psycopg.Connection[TupleRow],
    files: list[MigrationFile],
    report: Callable[[str], None] = lambda _: None,
    lock_timeout_s: float | None = None,
) -> list[MigrationFile]:
    """Apply every pending migration, each in its own transaction; returns those applied.

    The advisory lock comes first: two runs on a fresh database must not race to create the
    history tables. `lock_timeout_s` defaults to `LIFT_DB_LOCK_TIMEOUT`, else 60 s.
    """
    timeout = lock_timeout_from_env() if lock_timeout_s is None else lock_timeout_s
    if not conn.autocommit:
        # The runner opens each file's transaction itself and checks it is still that one.
        raise MigrationError("the migration runner needs a connection in autocommit mode")
    _reset_session(conn)
    acquire_lock(conn, timeout)
    try:
        ensure_history(conn)
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
        if not conn.closed:
            if conn.info.transaction_status != pq.TransactionStatus.IDLE:
                conn.execute("rollback")
            conn.execute("select pg_catalog.pg_advisory_unlock(%s)", (_LOCK_KEY,))


def _reset_session(conn: psycopg.Connection[TupleRow]) -> None:
    # RESET ALL as the CLI runs it; the name stays so that pg_stat_activity shows who we are.
    conn.execute("reset all")
    conn.execute("select pg_catalog.set_config('application_name', %s, false)", (APPLICATION_NAME,))


def acquire_lock(conn: psycopg.Connection[TupleRow], timeout_s: float) -> None:
    """Take the session-level migration lock, or fail after `timeout_s` naming its holder."""
    try:
        with conn.transaction():
            # lock_timeout bounds the wait for an advisory lock too; `local` ends with this block,
            # while the lock, taken at session level, stays.
            conn.execute(
                "select pg_catalog.set_config('lock_timeout', %s, true)",
                (f"{max(1, round(timeout_s * 1000))}ms",),
            )
            conn.execute("select pg_catalog.pg_advisory_lock(%s)", (_LOCK_KEY,))
    except psycopg.errors.LockNotAvailable as exc:
        raise MigrationLockTimeoutError(
            f"another session has held the migration lock for more than {timeout_s:g} s: "
            f"{_describe_holder(conn)}",
            "wait for it to finish and run again; if it is stuck, end it with "
            "`select pg_terminate_backend(<pid>)`; "
            f"{LOCK_TIMEOUT_ENV}=<seconds> waits longer",
        ) from exc


_HOLDER = """
select a.pid, a.application_name, a.usename, host(a.client_addr), a.client_port,
       a.backend_start, a.state, a.state_change
  from pg_catalog.pg_locks as l
  left join pg_catalog.pg_stat_activity as a on a.pid = l.pid
 where l.locktype = 'advisory'
   and l.granted
   and l.database = (select d.oid from pg_catalog.pg_database as d
                      where d.datname = pg_catalog.current_database())
   and l.classid = %s::oid and l.objid = %s::oid and l.objsubid = 1
"""


def _describe_holder(conn: psycopg.Connection[TupleRow]) -> str:
    rows = conn.execute(_HOLDER, (_LOCK_KEY >> 32, _LOCK_KEY & 0xFFFFFFFF)).fetchall()
    if not rows:
        return "it has just been released (run again)"
    parts = []
    for pid, app, user, host, port, since, state, state_since in rows:
        if host is not None:
            client = f"{host}:{port}"
        elif port == -1:
            client = "a local socket"
        else:
            client = "an address this role may not see (pg_read_all_stats shows it)"
        who = f"pid {pid}, application_name {app or '(none)'!r}, user {user}, from {client}"
        if since is not None:
            who += f", connected since {since:%Y-%m-%d %H:%M:%S %Z}"
        if state is not None and state_since is not None:
            who += f", {state} since {state_since:%Y-%m-%d %H:%M:%S %Z}"
        parts.append(who)
    return "; ".join(parts)


def transaction_control(stmt: Statement) -> str | None:
    """The statement's words when it would end, commit or open a transaction, else None.

    SAVEPOINT, RELEASE, ROLLBACK TO and SET TRANSACTION stay inside the file's transaction and are
    allowed. This check refuses a file before anything runs; the transaction itself is checked
    after every statement all the same (`_TransactionGuard`).
    """
    words = leading_words(stmt.text, 4)
    if not words:
        return None
    first, rest = words[0], words[1:]
    refused = (
        first in ("begin", "commit", "end", "abort")
        or (first == "start" and rest[:1] == ["transaction"])
        or (first == "prepare" and rest[:1] == ["transaction"])
        or (first == "rollback" and "to" not in rest)
    )
    return " ".join(words) if refused else None


_XID_IF_ASSIGNED = "select pg_catalog.pg_current_xact_id_if_assigned()::pg_catalog.text"
_XID_ASSIGN = "select pg_catalog.pg_current_xact_id()::pg_catalog.text"
_XID_STATUS = "select pg_catalog.pg_xact_status(%s::pg_catalog.text::pg_catalog.xid8)"
_EXISTS = "select pg_catalog.to_regclass(%s::pg_catalog.text) is not null"


class _TransactionGuard:
    """Proves, after every statement, that the file still runs in the transaction opened for it.

    The transaction's id is taken after the first statement (before it, a query would forbid a
    leading SET TRANSACTION); a statement that commits, rolls back, prepares or chains leaves the
    connection idle or in a transaction with another id.
    """

    def __init__(self, conn: psycopg.Connection[TupleRow], file: MigrationFile) -> None:
        self.conn = conn
        self.file = file
        self.xid: str | None = None

    def check(self, stmt: Statement) -> None:
        status = self.conn.info.transaction_status
        if status == pq.TransactionStatus.INTRANS:
            # Fully qualified: the file may have changed search_path.
            row = self.conn.execute(_XID_IF_ASSIGNED)
            current = _one(row.fetchone())
            if self.xid is None:
                self.xid = _one(self.conn.execute(_XID_ASSIGN).fetchone())
                return
            if current == self.xid:
                return
            self.conn.execute("rollback")
            raise self._ended(stmt, "rolled back what ran after it; ")
        if status == pq.TransactionStatus.IDLE:
            raise self._ended(stmt, "")

    def _ended(self, stmt: Statement, after: str) -> MigrationTransactionError:
        what = "nothing of the file had run yet"
        if self.xid is not None:
            row = self.conn.execute(_XID_STATUS, (self.xid,)).fetchone()
            fate = _one(row)
            if fate == "committed":
                what = (
                    f"lines before {stmt.line} were COMMITTED and stay in the database: the runner "
                    "cannot undo them, inspect the database"
                )
            elif fate == "aborted":
                what = f"lines before {stmt.line} were rolled back"
            else:
                what = self._rollback_prepared()
        return MigrationTransactionError(
            f"migration {self.file.filename} line {stmt.line}: `{_first_line(stmt)}` ended the "
            f"transaction the runner opened for the file ({after}{what}); "
            f"{self.file.filename} is not recorded as applied",
            "remove every statement that ends or replaces the transaction: each migration file "
            "already runs in one transaction",
        )

    def _rollback_prepared(self) -> str:
        row = self.conn.execute(
            "select p.gid from pg_catalog.pg_prepared_xacts as p"
            " where p.transaction::pg_catalog.text operator(pg_catalog.=) %s::pg_catalog.text",
            (self.xid,),
        ).fetchone()
        if row is None:
            return "its outcome is unknown: inspect the database"
        self.conn.execute(sql.SQL("rollback prepared {}").format(sql.Literal(row[0])))
        return f"the runner rolled back the prepared transaction {row[0]!r} it left"


def _one(row: tuple[object, ...] | None) -> str | None:
    return None if row is None or row[0] is None else str(row[0])


def _first_line(stmt: Statement) -> str:
    code = [ln for ln in stmt.text.splitlines() if ln.strip()]
    return code[0].strip()[:120] if code else stmt.text[:120]


_HISTORY_STATE = """
select c.relname, c.relkind, c.relrowsecurity, c.relhastriggers, c.relhasrules,
       c.reloptions::pg_catalog.text, c.relowner::pg_catalog.regrole::pg_catalog.text,
       c.relacl::pg_catalog.text,
       (select pg_catalog.array_agg(a.attname::pg_catalog.text operator(pg_catalog.||) ' '
                                    operator(pg_catalog.||) a.atttypid::pg_catalog.text
                                    order by a.attnum)
          from pg_catalog.pg_attribute as a
         where a.attrelid operator(pg_catalog.=) c.oid and a.attnum operator(pg_catalog.>) 0
           and not a.attisdropped)
  from pg_catalog.pg_class as c
 where c.relnamespace operator(pg_catalog.=) 'supabase_migrations'::pg_catalog.regnamespace
 order by c.relname
"""


_HISTORY_SCHEMA = """
select n.nspowner::pg_catalog.regrole::pg_catalog.text, n.nspacl::pg_catalog.text
  from pg_catalog.pg_namespace as n
 where n.nspname operator(pg_catalog.=) 'supabase_migrations'
"""


def _history_state(conn: psycopg.Connection[TupleRow]) -> list[object]:
    """The runner's history tables: their shape, and every row (they are small)."""
    state: list[object] = [
        conn.execute(_HISTORY_STATE).fetchall(),
        conn.execute(_HISTORY_SCHEMA).fetchall(),
    ]
    for table in HISTORY_TABLES:
        name = f"supabase_migrations.{table}"
        found = conn.execute(_EXISTS, (name,)).fetchone()
        if not (found and found[0]):
            state.append(None)  # dropped: the catalog part above differs too
            continue
        query = sql.SQL("select * from supabase_migrations.{}").format(sql.Identifier(table))
        state.append(sorted(map(repr, conn.execute(query).fetchall())))
    return state


def _holds_lock(conn: psycopg.Connection[TupleRow]) -> bool:
    row = conn.execute(
        """
        select pg_catalog.count(*) from pg_catalog.pg_locks as l
         where l.locktype operator(pg_catalog.=) 'advisory' and l.granted
           and l.pid operator(pg_catalog.=) pg_catalog.pg_backend_pid()
           and l.classid operator(pg_catalog.=) %s::pg_catalog.oid
           and l.objid operator(pg_catalog.=) %s::pg_catalog.oid
        """,
        (_LOCK_KEY >> 32, _LOCK_KEY & 0xFFFFFFFF),
    ).fetchone()
    return bool(row and row[0])


def apply_one(conn: psycopg.Connection[TupleRow], file: MigrationFile) -> None:
    """Run one file and record it, all in one transaction; call with the migration lock held."""
    statements = file.statements()
    for stmt in statements:
        control = transaction_control(stmt)
        if control is not None:
            raise MigrationTransactionError(
                f"migration {file.filename} line {stmt.line}: `{control}` manages the "
                "transaction itself; nothing of the file was run",
                "remove it: each migration file already runs in one transaction",
            )
    before = _history_state(conn)
    _reset_session(conn)
    guard = _TransactionGuard(conn, file)
    current: Statement | None = None
    try:
        conn.execute("begin")
        with conn.cursor() as cur:
            for current in statements:
                # binary=True sends it over the extended protocol: one statement, never two.
                cur.execute(current.text.encode(), binary=True)
                guard.check(current)
        current = None
        _refuse_tampering(conn, file, before)
        conn.execute(
            "insert into supabase_migrations.schema_migrations (version, name, statements)"
            " values (%s, %s, %s)",
            (file.version, file.name, [s.text for s in statements]),
        )
        _record_checksum(conn, file)
        conn.execute("commit")
    except psycopg.Error as exc:
        _rollback(conn)
        raise _failure(file, current, exc) from exc
    except BaseException:
        _rollback(conn)
        raise
    finally:
        if not conn.closed:
            _reset_session(conn)


def _refuse_tampering(
    conn: psycopg.Connection[TupleRow], file: MigrationFile, before: list[object]
) -> None:
    if _history_state(conn) != before:
        raise MigrationTamperError(
            f"migration {file.filename} changed the runner's history "
            f"(supabase_migrations.{', supabase_migrations.'.join(HISTORY_TABLES)}); "
            "it was rolled back and is not recorded",
            "a migration never writes the history it is recorded in: remove those statements",
        )
    if not _holds_lock(conn):
        raise MigrationTamperError(
            f"migration {file.filename} released the runner's advisory lock; "
            "it was rolled back and is not recorded",
            "remove the pg_advisory_unlock call from the migration",
        )


def _rollback(conn: psycopg.Connection[TupleRow]) -> None:
    if not conn.closed and conn.info.transaction_status != pq.TransactionStatus.IDLE:
        conn.execute("rollback")


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
