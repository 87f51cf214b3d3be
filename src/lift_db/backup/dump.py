"""`lift-db dump` and `lift-db restore`: the app's data in one file, back into a fresh stack.

A backup is a tar file holding:

- `app.pgdump`: `pg_dump --format=custom` of the app's schemas
  (`lift_db.backup._checksums.app_schemas`: `public`, `private`, the migration history in
  `supabase_migrations`, ...), made by the embedded server's own pg_dump; `pg_restore -l` reads it.
- `auth-data.sql`: the `auth.users` rows the app's tables reference and their identities, as
  COPY blocks. Auth belongs to the platform, so the rest of its schema is not the app's to copy.
- `platform-attachments.sql`: what the app attaches to platform objects, which a dump of the
  app's schemas alone loses: its triggers on auth tables (profile sync) and its tables in
  Realtime's publication (`lift_db.backup._checksums.ATTACHMENTS_QUERY`).
- `manifest.json`: what was dumped, from where, and every table's row count and content
  checksum, every grant and every attachment, taken in the same snapshot as the dump.

`lift_db.backup.restore` puts a backup back.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from lift_db.backup import _archive, _checksums
from lift_db.errors import LiftDbError, TargetUnreachableError
from lift_db.local.binaries import find_install
from lift_db.local.target import Target, client_env, redact, scrub

FORMAT = "lift-db-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
APP_DUMP = "app.pgdump"
AUTH_DATA = "auth-data.sql"
ATTACHMENTS = "platform-attachments.sql"
MEMBERS = (APP_DUMP, AUTH_DATA, ATTACHMENTS)
TOOL_TIMEOUT_S = 1800

Report = Callable[[str], None]


class BackupError(_archive.ArchiveError):
    """A backup file is missing, unreadable or not one `lift-db dump` wrote."""


@dataclass(frozen=True)
class TableEntry:
    rows: int
    md5: str
    source: str  # the FROM clause the checksum was computed over


@dataclass(frozen=True)
class Manifest:
    created_at: str
    source: str
    server_version: str
    schemas: list[str]
    extensions: list[tuple[str, str]]
    tables: dict[str, TableEntry]
    privileges: list[str]
    attachments: list[str]
    sha256: dict[str, str]

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "created_at": self.created_at,
                "source": self.source,
                "server_version": self.server_version,
                "schemas": self.schemas,
                "extensions": [list(e) for e in self.extensions],
                "tables": {
                    name: {"rows": t.rows, "md5": t.md5, "source": t.source}
                    for name, t in self.tables.items()
                },
                "privileges": self.privileges,
                "attachments": self.attachments,
                "sha256": self.sha256,
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str, where: Path) -> Manifest:
        try:
            data = json.loads(text)
            if data.get("format") != FORMAT:
                raise BackupError(f"{where} is not a lift-db backup (its manifest names no format)")
            if data.get("format_version") != FORMAT_VERSION:
                raise BackupError(
                    f"{where} is a lift-db backup of format version {data.get('format_version')}"
                    f", this lift-db reads version {FORMAT_VERSION}",
                    "restore it with the lift-db version that wrote it",
                )
            return cls(
                created_at=str(data["created_at"]),
                source=str(data["source"]),
                server_version=str(data["server_version"]),
                schemas=[str(s) for s in data["schemas"]],
                extensions=[(str(n), str(s)) for n, s in data["extensions"]],
                tables={
                    str(name): TableEntry(int(t["rows"]), str(t["md5"]), str(t["source"]))
                    for name, t in data["tables"].items()
                },
                privileges=[str(p) for p in data["privileges"]],
                attachments=[str(a) for a in data["attachments"]],
                sha256={str(k): str(v) for k, v in data["sha256"].items()},
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackupError(f"{where} has an unreadable manifest: {exc!r:.200}") from exc

    @property
    def total_rows(self) -> int:
        return sum(t.rows for t in self.tables.values())


# -- dump ------------------------------------------------------------------------------------------


def default_output(now: datetime | None = None) -> Path:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return Path(f"lift-db-backup-{stamp}.tar")


def dump(target: Target, output: Path, report: Report) -> Manifest:
    """Write a backup of the target's app data to `output` (which must not exist yet)."""
    if output.exists():
        raise BackupError(
            f"{output} already exists", "choose another --output, or move the old file away"
        )
    if not output.parent.is_dir():
        raise BackupError(f"the folder {output.parent} does not exist", "create it first")
    with (
        target.connect() as conn,
        conn.transaction(),
        tempfile.TemporaryDirectory(prefix="lift-db-dump-") as tmp,
    ):
        # One snapshot for everything: pg_dump imports it, so the dump, the auth rows and the
        # manifest's checksums describe the same moment even while clients write.
        conn.execute("set transaction isolation level repeatable read, read only")
        # Qualified names in everything written below (trigger definitions included).
        conn.execute("set local search_path = ''")
        snapshot = _scalar(conn, "select pg_catalog.pg_export_snapshot()")
        schemas = _checksums.app_schemas(conn)
        folder = Path(tmp)
        _pg_dump(target.url, snapshot, schemas, folder / APP_DUMP)
        _auth_data(conn, schemas, folder / AUTH_DATA)
        attached = _checksums.attachments(conn)
        (folder / ATTACHMENTS).write_text(
            "-- what the app attaches to platform objects (written by lift-db dump)\n"
            + "".join(statement + "\n" for _, statement in attached)
        )
        tables = _table_entries(conn)
        manifest = Manifest(
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            source=redact(target.url),
            server_version=_scalar(conn, "show server_version"),
            schemas=schemas,
            extensions=[
                (str(n), str(s))
                for n, s in conn.execute(
                    "select e.extname, n.nspname from pg_catalog.pg_extension as e"
                    " join pg_catalog.pg_namespace as n on n.oid = e.extnamespace"
                    " where e.extname <> 'plpgsql' order by e.extname"
                ).fetchall()
            ],
            tables=tables,
            privileges=_checksums.privileges(conn),
            attachments=[line for line, _ in attached],
            sha256={name: _sha256(folder / name) for name in MEMBERS},
        )
        _write_archive(output, folder, manifest)
    report(
        f"dumped schemas {', '.join(schemas)} and {manifest.tables['auth.users'].rows} auth "
        f"users: {len(tables)} tables, {manifest.total_rows} rows"
    )
    return manifest


def _table_entries(conn: psycopg.Connection[TupleRow]) -> dict[str, TableEntry]:
    conn.execute("set local timezone = 'UTC'")
    conn.execute("set local extra_float_digits = 3")
    entries: dict[str, TableEntry] = {}
    for name, source in _checksums.sources(conn).items():
        row = conn.execute(_checksums.digest_query(source)).fetchone()
        if row is None:
            raise BackupError(f"no checksum for {name}")
        entries[name] = TableEntry(int(row[0]), str(row[1]), source.as_string(conn))
    return entries


def _auth_data(conn: psycopg.Connection[TupleRow], schemas: list[str], path: Path) -> None:
    with path.open("wb") as out:
        _write_auth_data(conn, schemas, out)


def _write_auth_data(conn: psycopg.Connection[TupleRow], schemas: list[str], out: BinaryIO) -> None:
    out.write(b"-- auth rows the app's data references (written by lift-db dump)\n")
    for name, select in _checksums.auth_selects(conn, schemas).items():
        schema, table = name.split(".")
        # Generated columns are computed again on restore; COPY may not write them.
        columns = [
            str(r[0])
            for r in conn.execute(
                "select a.attname from pg_catalog.pg_attribute as a"
                " where a.attrelid = to_regclass(%s) and a.attnum > 0 and not a.attisdropped"
                "   and a.attgenerated = '' order by a.attnum",
                (name,),
            ).fetchall()
        ]
        column_list = sql.SQL(", ").join(map(sql.Identifier, columns))
        query = sql.SQL("copy (select {} from ({}) as src) to stdout").format(
            sql.SQL(", ").join(sql.Identifier("src", c) for c in columns), select
        )
        header = sql.SQL("copy {} ({}) from stdin;\n").format(
            sql.Identifier(schema, table), column_list
        )
        out.write(header.as_string(conn).encode())
        with conn.cursor().copy(query) as copy:
            for chunk in copy:
                out.write(bytes(chunk))
        out.write(b"\\.\n")


def _pg_dump(url: str, snapshot: str, schemas: list[str], path: Path) -> None:
    argv = [
        str(find_install().bin("pg_dump")),
        "--format=custom",
        "--no-password",
        f"--snapshot={snapshot}",
        f"--file={path}",
        *(f"--schema={s}" for s in schemas),
    ]
    run_tool(argv, url, "pg_dump", failure=LiftDbError)


def _write_archive(output: Path, folder: Path, manifest: Manifest) -> None:
    (folder / MANIFEST).write_text(manifest.to_json())
    _archive.write(output, [(name, folder / name) for name in (MANIFEST, *MEMBERS)])


# -- reading a backup --------------------------------------------------------------------------


@contextmanager
def open_backup(path: Path) -> Iterator[tuple[Manifest, Path]]:
    """Check the backup file whole (its tar structure, manifest, member checksums, the pg_dump
    archive's table of contents) and yield its manifest and a private folder holding its members.

    The tar file is read by `lift_db.backup._archive`, which refuses links, sparse, oversized,
    repeated or unexpected members before reading their data, and never holds a member in memory.
    """
    if not path.exists() and not path.is_symlink():
        raise BackupError(
            f"backup file {path} does not exist", "pass the file `lift-db dump` wrote"
        )
    if not path.is_file():
        raise BackupError(f"{path} is not a file")
    with tempfile.TemporaryDirectory(prefix="lift-db-restore-") as tmp:
        folder = Path(tmp)
        hashes = _archive.extract(path, folder, member_limits())
        missing = [m for m in (MANIFEST, *MEMBERS) if m not in hashes]
        if missing:
            raise BackupError(f"{path} is not a lift-db backup: it lacks {', '.join(missing)}")
        manifest = Manifest.from_json((folder / MANIFEST).read_text(errors="replace"), path)
        for name in MEMBERS:
            if hashes[name] != manifest.sha256.get(name):
                raise BackupError(
                    f"{path} is damaged: {name} does not match the checksum in its manifest",
                    "restore from an intact copy of the backup",
                )
        run_tool(
            [str(find_install().bin("pg_restore")), "--list", str(folder / APP_DUMP)],
            what=f"reading the pg_dump archive in {path}",
            failure=BackupError,
        )
        yield manifest, folder


def member_limits() -> _archive.Limits:
    """The manifest and the attachments are small whatever the data; the data members are
    limited by LIFT_DB_BACKUP_MAX_BYTES (default 64 GiB)."""
    return _archive.Limits.for_members(
        {MANIFEST: 64 * _archive.MIB, ATTACHMENTS: 16 * _archive.MIB}, (APP_DUMP, AUTH_DATA)
    )


# -- helpers -------------------------------------------------------------------------------------


def run_tool(
    argv: list[str],
    url: str | None = None,
    what: str | None = None,
    failure: type[LiftDbError] = LiftDbError,
) -> str:
    """Run a client tool; the password travels in the environment, never on the command line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    if url is not None:
        conninfo, env = client_env(url)
        argv = [*argv, f"--dbname={conninfo}"]
    env["PGCONNECT_TIMEOUT"] = "10"
    name = what or Path(argv[0]).name
    try:
        result = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env=env,
            timeout=TOOL_TIMEOUT_S,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise failure(f"{name} could not run: {exc}") from exc
    if result.returncode != 0:
        detail = _tool_error(result.stderr or result.stdout)
        if url is not None:
            detail = scrub(detail, url)
        if url is not None and ("could not connect" in detail or "connection to server" in detail):
            raise TargetUnreachableError(
                f"{name}: cannot connect to {redact(url)}: {detail}",
                "start the local stack with `lift-db start`, or fix --db-url / DATABASE_URL",
            )
        raise failure(f"{name} failed: {detail}")
    return result.stdout


def _tool_error(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if "ERROR" in ln or "error" in ln or "FATAL" in ln]
    return " | ".join((errors or lines)[-4:])[:2000] or "(no output)"


def _scalar(conn: psycopg.Connection[TupleRow], query: str) -> str:
    row = conn.execute(query.encode()).fetchone()
    if row is None:
        raise BackupError(f"no result from {query}")
    return str(row[0])


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
