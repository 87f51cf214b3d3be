"""`lift-db dump` and `lift-db restore`: the app's data in one file, back into a fresh stack.

A backup is a tar file holding:

- `app.pgdump`: `pg_dump --format=custom` of the app's schemas (`lift_db.digest.app_schemas`:
  `public`, `private`, the migration history in `supabase_migrations`, ...), made by the embedded
  server's own pg_dump; `pg_restore -l` reads it.
- `auth-data.sql`: the `auth.users` rows the app's tables reference and their identities, as
  COPY blocks. Auth belongs to the platform, so the rest of its schema is not the app's to copy.
- `platform-attachments.sql`: what the app attaches to platform objects, which a dump of the
  app's schemas alone loses: its triggers on auth tables (profile sync) and its tables in
  Realtime's publication (`lift_db.digest.ATTACHMENTS_QUERY`).
- `manifest.json`: what was dumped, from where, and every table's row count and content
  checksum, every grant and every attachment, taken in the same snapshot as the dump.

Restore runs as one transaction and checks every table, grant and attachment against the
manifest before it commits: a restore either reproduces the backup exactly or leaves the target
as it was.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import secrets
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import TupleRow

from lift_db import digest
from lift_db.binaries import find_install
from lift_db.errors import LiftDbError, TargetUnreachableError
from lift_db.stack import prepare
from lift_db.target import Target, connect, redact

FORMAT = "lift-db-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
APP_DUMP = "app.pgdump"
AUTH_DATA = "auth-data.sql"
ATTACHMENTS = "platform-attachments.sql"
MEMBERS = (APP_DUMP, AUTH_DATA, ATTACHMENTS)
TOOL_TIMEOUT_S = 1800

Report = Callable[[str], None]


class BackupError(LiftDbError):
    """A backup file is missing, unreadable or not one `lift-db dump` wrote."""


class RestoreError(LiftDbError):
    """The target cannot take the backup, or the restore failed (and was rolled back)."""


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
        schemas = digest.app_schemas(conn)
        folder = Path(tmp)
        _pg_dump(target.url, snapshot, schemas, folder / APP_DUMP)
        (folder / AUTH_DATA).write_bytes(_auth_data(conn, schemas))
        attached = digest.attachments(conn)
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
            privileges=digest.privileges(conn),
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
    for name, source in digest.sources(conn).items():
        row = conn.execute(digest.digest_query(source)).fetchone()
        if row is None:
            raise BackupError(f"no checksum for {name}")
        entries[name] = TableEntry(int(row[0]), str(row[1]), source.as_string(conn))
    return entries


def _auth_data(conn: psycopg.Connection[TupleRow], schemas: list[str]) -> bytes:
    out = io.BytesIO()
    out.write(b"-- auth rows the app's data references (written by lift-db dump)\n")
    for name, select in digest.auth_selects(conn, schemas).items():
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
    return out.getvalue()


def _pg_dump(url: str, snapshot: str, schemas: list[str], path: Path) -> None:
    argv = [
        str(find_install().bin("pg_dump")),
        "--format=custom",
        "--no-password",
        f"--snapshot={snapshot}",
        f"--file={path}",
        *(f"--schema={s}" for s in schemas),
    ]
    _tool(argv, url, "pg_dump", failure=LiftDbError)


def _write_archive(output: Path, folder: Path, manifest: Manifest) -> None:
    # Written next to the destination and renamed: a failed dump leaves no half file behind.
    partial = output.with_name(f".{output.name}.{secrets.token_hex(4)}.partial")
    try:
        with tarfile.open(partial, "w") as tar:
            data = manifest.to_json().encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(data)
            info.mtime = int(datetime.now(UTC).timestamp())
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
            for name in MEMBERS:
                tar.add(folder / name, arcname=name, recursive=False)
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)


# -- reading a backup --------------------------------------------------------------------------


@contextmanager
def open_backup(path: Path) -> Iterator[tuple[Manifest, Path]]:
    """Check the backup file whole (manifest, member checksums, the pg_dump archive) and yield
    its manifest and a folder holding its members."""
    if not path.exists():
        raise BackupError(
            f"backup file {path} does not exist", "pass the file `lift-db dump` wrote"
        )
    if not path.is_file():
        raise BackupError(f"{path} is not a file")
    with tempfile.TemporaryDirectory(prefix="lift-db-restore-") as tmp:
        folder = Path(tmp)
        try:
            with tarfile.open(path, "r:") as tar:
                names = set(tar.getnames())
                missing = [m for m in (MANIFEST, *MEMBERS) if m not in names]
                if missing:
                    raise BackupError(
                        f"{path} is not a lift-db backup: it lacks {', '.join(missing)}"
                    )
                for name in (MANIFEST, *MEMBERS):
                    member = tar.getmember(name)
                    source = tar.extractfile(member) if member.isfile() else None
                    if source is None:
                        raise BackupError(f"{path} is not a lift-db backup: {name} is no file")
                    (folder / name).write_bytes(source.read())
        except (tarfile.TarError, EOFError, OSError) as exc:
            if isinstance(exc, BackupError):
                raise
            raise BackupError(
                f"{path} is not a lift-db backup (not a readable tar file: {exc})",
                "pass the file `lift-db dump` wrote",
            ) from exc
        manifest = Manifest.from_json((folder / MANIFEST).read_text(errors="replace"), path)
        for name in MEMBERS:
            if _sha256(folder / name) != manifest.sha256.get(name):
                raise BackupError(
                    f"{path} is damaged: {name} does not match the checksum in its manifest",
                    "restore from an intact copy of the backup",
                )
        _tool(
            [str(find_install().bin("pg_restore")), "--list", str(folder / APP_DUMP)],
            what=f"reading the pg_dump archive in {path}",
            failure=BackupError,
        )
        yield manifest, folder


# -- restore -----------------------------------------------------------------------------------


def restore(target: Target, path: Path, report: Report) -> Manifest:
    """Restore a backup into the target, which must hold no app objects yet.

    The local server's database is replaced instead (see `restore_local`).
    """
    with open_backup(path) as (manifest, folder):
        _require_fresh(target, manifest)
        prepare(target, report)
        _restore_into(target, manifest, folder)
    report(_restored(manifest))
    return manifest


def restore_local(target: Target, path: Path, report: Report) -> Manifest:
    """Restore into a new database of the local server and swap it in for the current one only
    once the restore has committed: a failed restore leaves the old database untouched."""
    if target.local is None:
        raise RestoreError("restore_local needs the local server")
    server = target.local
    params = conninfo_to_dict(target.url)
    dbname = str(params.get("dbname") or "postgres")
    staging = f"{dbname}_restore_{secrets.token_hex(4)}"
    with open_backup(path) as (manifest, folder):
        with connect(server.admin_url()) as conn:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(staging)))
        fresh = Target(url=server.url(dbname=staging), admin_url=server.admin_url(staging))
        try:
            prepare(fresh, report)
            _restore_into(fresh, manifest, folder)
        except BaseException:
            _drop(server.admin_url(), staging)
            raise
    with connect(server.admin_url("template1")) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(dbname))
        )
        conn.execute(
            sql.SQL("alter database {} rename to {}").format(
                sql.Identifier(staging), sql.Identifier(dbname)
            )
        )
    report(f"replaced database {dbname} with the backup")
    report(_restored(manifest))
    return manifest


def _restored(manifest: Manifest) -> str:
    return (
        f"restored {len(manifest.tables)} tables, {manifest.total_rows} rows "
        f"(backup of {manifest.source}, {manifest.created_at}); every row count and checksum "
        "matches the backup"
    )


def _drop(admin_url: str, dbname: str) -> None:
    try:
        with connect(admin_url) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(dbname))
            )
    except (psycopg.Error, LiftDbError):
        pass  # the original error matters more; the staging database is named in it


def _require_fresh(target: Target, manifest: Manifest) -> None:
    with target.connect() as conn:
        taken = [
            str(r[0])
            for r in conn.execute(
                "select format('schema %%I', n.nspname) from pg_catalog.pg_namespace as n"
                " where n.nspname = any(%(s)s) and n.nspname <> 'public'"
                " union all "
                "select format('table %%I.%%I', n.nspname, c.relname)"
                "  from pg_catalog.pg_class as c"
                "  join pg_catalog.pg_namespace as n on n.oid = c.relnamespace"
                " where n.nspname = any(%(s)s) and c.relkind in ('r', 'p')"
                " order by 1",
                {"s": manifest.schemas},
            ).fetchall()
        ]
    if taken:
        shown = ", ".join(taken[:5]) + (f" and {len(taken) - 5} more" if len(taken) > 5 else "")
        raise RestoreError(
            f"{target.describe()} is not a fresh database: it already holds {shown}",
            "restore into a new database (or a fresh Supabase project); nothing was changed",
        )


def _restore_into(target: Target, manifest: Manifest, folder: Path) -> None:
    pg_restore = str(find_install().bin("pg_restore"))
    toc = folder / "restore.list"
    toc.write_text(
        _restorable_toc(_tool([pg_restore, "--list", str(folder / APP_DUMP)], failure=BackupError))
    )
    script = folder / "restore.sql"
    with target.connect() as conn, script.open("w") as out:
        out.write("-- lift-db restore: one transaction (psql --single-transaction)\n")
        for name, schema in manifest.extensions:
            out.write(
                sql.SQL("create extension if not exists {} with schema {};\n")
                .format(sql.Identifier(name), sql.Identifier(schema))
                .as_string(conn)
            )
        out.write(
            sql.SQL(_LOAD_EXTENSION_LIBRARIES)
            .format(sql.Literal([name for name, _ in manifest.extensions]))
            .as_string(conn)
        )
        out.write(_neutral_default_privileges(conn, manifest.schemas))
        # Auth rows first: the app's foreign keys check them, and the app's triggers on auth
        # tables come only with the attachments at the end, so loading creates no profile twice.
        out.write((folder / AUTH_DATA).read_text())
        out.write(
            _tool(
                [pg_restore, "--file=-", f"--use-list={toc}", str(folder / APP_DUMP)],
                failure=BackupError,
            )
        )
        out.write("set search_path = '';\n")
        out.write((folder / ATTACHMENTS).read_text())
        out.write(_verification(conn, manifest))
    _tool(
        [
            str(find_install().bin("psql")),
            "--no-psqlrc",
            "--quiet",
            "--single-transaction",
            "--set=ON_ERROR_STOP=1",
            f"--file={script}",
        ],
        target.url,
        "restore (rolled back: the target is unchanged)",
    )


# An extension's settings (pgvector's hnsw.ef_search, which match_sessions sets in its SET
# clause) exist only once its library is loaded in the session; until then only a superuser may
# name them in a function's SET clause, and the restore, run as the app's role, would fail. Any
# C function of the extension loads the library when a query that calls it is prepared for
# execution; the query below runs no row (its subquery is empty and kept apart by OFFSET 0, so
# that the call is neither run nor folded away by the planner).
_LOAD_EXTENSION_LIBRARIES = """do $lift_load$
declare
  fn record;
begin
  for fn in
    select distinct on (e.extname)
           pg_catalog.format('%I.%I', n.nspname, p.proname) as name,
           (select pg_catalog.string_agg(
                     pg_catalog.format('null::%s as a%s', pg_catalog.format_type(t, null), o), ', ')
              from pg_catalog.unnest(p.proargtypes) with ordinality as a(t, o)) as columns,
           (select pg_catalog.string_agg('s.a' || o, ', ')
              from pg_catalog.generate_series(1, p.pronargs) as o) as args
      from pg_catalog.pg_extension as e
      join pg_catalog.pg_depend as d
        on d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass and d.refobjid = e.oid
       and d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass and d.deptype = 'e'
      join pg_catalog.pg_proc as p on p.oid = d.objid
      join pg_catalog.pg_namespace as n on n.oid = p.pronamespace
      join pg_catalog.pg_language as l on l.oid = p.prolang
     where e.extname = any({})
       and l.lanname = 'c' and p.prokind = 'f' and p.pronargs between 1 and 8
     order by e.extname, p.oid
  loop
    execute pg_catalog.format('select %s(%s) from (select %s where false offset 0) as s',
                              fn.name, fn.args, fn.columns);
  end loop;
end
$lift_load$;
"""

_DEFAULT_ACL_KINDS = {"r": "tables", "S": "sequences", "f": "functions", "T": "types"}


def _neutral_default_privileges(conn: psycopg.Connection[TupleRow], schemas: list[str]) -> str:
    """Statements that lift the restoring role's default privileges in the backup's schemas.

    pg_dump writes each object's grants relative to PostgreSQL's built-in defaults, and the
    schema's default privileges last. A target that already has default privileges (Supabase's
    public schema grants everything to anon and authenticated) would otherwise hand the restored
    tables grants their source never had. The backup's own default privileges are restored at
    the end of its pg_dump script, and the verification compares every grant with the source.
    """
    rows = conn.execute(
        "select distinct d.defaclnamespace::regnamespace::text, d.defaclobjtype::text,"
        "       case e.grantee when 0 then 'public' else e.grantee::regrole::text end"
        "  from pg_catalog.pg_default_acl as d"
        " cross join lateral pg_catalog.aclexplode(d.defaclacl) as e"
        " where d.defaclrole = (select oid from pg_catalog.pg_roles where rolname = current_user)"
        "   and d.defaclnamespace <> 0"
        "   and d.defaclnamespace::regnamespace::text = any(%s)"
        " order by 1, 2, 3",
        (schemas,),
    ).fetchall()
    statements = []
    for schema, kind, grantee in rows:
        if kind not in _DEFAULT_ACL_KINDS:
            continue
        who = sql.SQL("public") if grantee == "public" else sql.Identifier(str(grantee))
        statements.append(
            sql.SQL("alter default privileges in schema {} revoke all on {} from {};\n")
            .format(sql.Identifier(str(schema)), sql.SQL(_DEFAULT_ACL_KINDS[kind]), who)
            .as_string(conn)
        )
    return "".join(statements)


# The public schema belongs to the platform (it exists in every database, with its own owner and
# grants); only what lives in it is the app's.
_PLATFORM_TOC = re.compile(
    r"^\d+; \d+ \d+ (SCHEMA - public|COMMENT - SCHEMA public|ACL - SCHEMA public) "
)


def _restorable_toc(listing: str) -> str:
    return "".join(
        line + "\n"
        for line in listing.splitlines()
        if line.strip() and not _PLATFORM_TOC.match(line)
    )


def _verification(conn: psycopg.Connection[TupleRow], manifest: Manifest) -> str:
    """A DO block that fails the restore unless every table and every grant matches the backup."""
    checks: list[str] = []
    for name, entry in manifest.tables.items():
        query = digest.digest_query(sql.SQL(entry.source)).as_string(conn)
        checks.append(
            sql.SQL(
                "  execute {} into n, h;\n"
                "  if n <> {} or h <> {} then\n"
                "    raise exception 'restored % differs from the backup: % rows (checksum %),"
                " the backup holds % rows (checksum %)', {}, n, h, {}, {};\n"
                "  end if;\n"
            )
            .format(
                sql.Literal(query),
                sql.Literal(entry.rows),
                sql.Literal(entry.md5),
                sql.Literal(name),
                sql.Literal(entry.rows),
                sql.Literal(entry.md5),
            )
            .as_string(conn)
        )
    checks.append(
        sql.SQL(
            "  execute {} into granted;\n"
            "  expected := {};\n"
            "  extra := array(select unnest(granted) except select unnest(expected));\n"
            "  missing := array(select unnest(expected) except select unnest(granted));\n"
            "  if cardinality(extra) > 0 or cardinality(missing) > 0 then\n"
            "    raise exception 'restored privileges differ from the backup: extra %, missing %',"
            " extra, missing;\n"
            "  end if;\n"
        )
        .format(
            sql.Literal(
                sql.SQL("select coalesce(array_agg(line), '{{}}') from ({}) as g(line)")
                .format(digest.privileges_query(manifest.schemas))
                .as_string(conn)
            ),
            sql.Literal(manifest.privileges) + sql.SQL("::text[]"),
        )
        .as_string(conn)
    )
    checks.append(
        sql.SQL(
            "  execute {} into granted;\n"
            "  expected := {};\n"
            "  extra := array(select unnest(granted) except select unnest(expected));\n"
            "  missing := array(select unnest(expected) except select unnest(granted));\n"
            "  if cardinality(extra) > 0 or cardinality(missing) > 0 then\n"
            "    raise exception 'restored attachments to platform objects differ from the"
            " backup: extra %, missing %', extra, missing;\n"
            "  end if;\n"
        )
        .format(
            sql.Literal(
                sql.SQL("select coalesce(array_agg(line), '{{}}') from ({}) as a(line, statement)")
                .format(digest.attachments_query(manifest.schemas))
                .as_string(conn)
            ),
            sql.Literal(manifest.attachments) + sql.SQL("::text[]"),
        )
        .as_string(conn)
    )
    body = (
        "declare\n  n bigint;\n  h text;\n"
        "  granted text[];\n  expected text[];\n  extra text[];\n  missing text[];\n"
        "begin\n" + "".join(checks) + "end\n"
    )
    tag = "$lift_verify$"
    if tag in body:
        raise RestoreError("the backup's manifest holds text that cannot be verified safely")
    return (
        f"set local timezone = 'UTC';\nset local extra_float_digits = 3;\ndo {tag}\n{body}{tag};\n"
    )


# -- helpers -------------------------------------------------------------------------------------


def _tool(
    argv: list[str],
    url: str | None = None,
    what: str | None = None,
    failure: type[LiftDbError] = RestoreError,
) -> str:
    """Run a client tool; the password travels in the environment, never on the command line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGCONNECT_TIMEOUT"] = "10"
    if url is not None:
        params: dict[str, Any] = dict(conninfo_to_dict(url))
        password = params.pop("password", None)
        if password is not None:
            env["PGPASSWORD"] = str(password)
        argv = [*argv, f"--dbname={make_conninfo(**params)}"]
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
