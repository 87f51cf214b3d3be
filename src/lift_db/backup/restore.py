"""`lift-db restore`: a backup that `lift-db dump` wrote (`backup.dump`), back in a database.

A backup is untrusted input: it may come from someone else, or have been edited after the dump.
So the restore:

1. reads the tar file without trusting it (`lift_db.backup._archive`: no links, sparse or
   oversized members, nothing held whole in memory) and checks every member against the manifest;
2. checks every statement of every member before any of it runs
   (`lift_db.backup._dump_grammar`): the pg_dump archive's table of contents must name only the
   backup's own schemas and the kinds of object pg_dump writes for them, and its SQL, the auth
   rows and the attachments only the forms `lift-db dump` writes;
3. runs it through psycopg, never psql, in one transaction, as the app's role (not a superuser):
   the backup's extensions from a short list of safe ones, the auth rows and the tables' rows by
   COPY, each statement alone through the extended protocol;
4. verifies, before committing, every table (row count and checksum), every grant and every
   attachment against the manifest, and that nothing outside the backup's own schemas changed
   (`lift_db.backup._footprint`: roles, memberships, settings, databases, `auth`, `extensions`, …).

It commits only if all of that holds: a restore either reproduces the backup exactly or leaves
the target as it was.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow

from lift_db.backup import _checksums, _footprint
from lift_db.backup._archive import DEFAULT_MAX_MEMBER
from lift_db.backup._dump_grammar import (
    END_OF_DATA,
    Context,
    CopyTarget,
    LineSource,
    RefusedError,
    Statement,
    check_app_statement,
    check_attachment,
    check_data_statement,
    read_script,
)
from lift_db.backup.dump import (
    APP_DUMP,
    ATTACHMENTS,
    AUTH_DATA,
    BackupError,
    Manifest,
    Report,
    member_limits,
    open_backup,
    run_tool,
)
from lift_db.errors import LiftDbError
from lift_db.local.binaries import find_install
from lift_db.local.target import Target, connect
from lift_db.migrate.commands import prepare

# Extensions a restore creates when the backup names one the target lacks: data types and index
# methods only. Nothing that reaches files, programs, the network or other databases (dblink,
# postgres_fdw, file_fdw, untrusted languages): those the target's owner installs, or not.
SAFE_EXTENSIONS = frozenset(
    {
        "vector",
        "pg_trgm",
        "btree_gin",
        "btree_gist",
        "citext",
        "hstore",
        "ltree",
        "unaccent",
        "fuzzystrmatch",
        "intarray",
        "cube",
        "isn",
        "seg",
        "pgcrypto",
        "uuid-ossp",
    }
)
# Roles whose members reach the server's files and programs: a restore never runs as one.
_SERVER_ACCESS_ROLES = (
    "pg_execute_server_program",
    "pg_write_server_files",
    "pg_read_server_files",
)
ROLLED_BACK = "rolled back: the target is unchanged"
_NAME = re.compile(r"^[a-z_][a-z0-9_$]{0,62}$")


class RestoreError(LiftDbError):
    """The target cannot take the backup, or the restore failed (and was rolled back)."""


def restore(target: Target, path: Path, report: Report) -> Manifest:
    """Restore a backup into the target, which must hold no app objects yet.

    The local server's database is replaced instead (see `restore_local`).
    """
    with open_backup(path) as (manifest, folder):
        role = _restoring_role(target)
        toc = check_backup(manifest, folder, role, path)
        _require_fresh(target, manifest)
        prepare(target, report)
        _restore_into(target, manifest, folder, toc, role)
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
        role = _restoring_role(target)
        toc = check_backup(manifest, folder, role, path)
        with connect(server.admin_url()) as conn:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(staging)))
        fresh = Target(url=server.url(dbname=staging), admin_url=server.admin_url(staging))
        try:
            prepare(fresh, report)
            _restore_into(fresh, manifest, folder, toc, role)
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
        "matches the backup, and nothing outside its schemas changed"
    )


def _drop(admin_url: str, dbname: str) -> None:
    try:
        with connect(admin_url) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(dbname))
            )
    except (psycopg.Error, LiftDbError):
        pass  # the original error matters more; the staging database is named in it


def _restoring_role(target: Target) -> str:
    """The role the restore runs as; refused when it is a superuser or reaches the server's
    files or programs, since SQL from the backup runs with its rights."""
    with target.connect() as conn:
        row = conn.execute(
            "select current_user, r.rolsuper,"
            " (select pg_catalog.array_agg(g) from pg_catalog.unnest(%s::text[]) as g"
            "   where pg_catalog.pg_has_role(current_user, g, 'member'))"
            " from pg_catalog.pg_roles as r where r.rolname = current_user",
            (list(_SERVER_ACCESS_ROLES),),
        ).fetchone()
    if row is None:
        raise RestoreError("cannot tell which role the restore runs as")
    role, superuser, access = str(row[0]), bool(row[1]), list(row[2] or [])
    if superuser or access:
        raise RestoreError(
            f"refusing to restore as {role}: it "
            + ("is a superuser" if superuser else f"is a member of {', '.join(access)}")
            + ", and SQL from a backup would run with those rights",
            "restore with a URL of the app's own role (postgres on Supabase and the local "
            "stack), which is neither",
        )
    return role


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


# -- checking a backup before anything runs ------------------------------------------------------

# What pg_dump writes for the objects of a schema (pg_dump.c's TOC descriptions).
_TOC_KINDS = (
    "MATERIALIZED VIEW DATA",
    "SEQUENCE OWNED BY",
    "TEXT SEARCH CONFIGURATION",
    "TEXT SEARCH DICTIONARY",
    "MATERIALIZED VIEW",
    "CHECK CONSTRAINT",
    "FK CONSTRAINT",
    "SEQUENCE SET",
    "ROW SECURITY",
    "TABLE ATTACH",
    "INDEX ATTACH",
    "DEFAULT ACL",
    "TABLE DATA",
    "SHELL TYPE",
    "CONSTRAINT",
    "STATISTICS",
    "PROCEDURE",
    "AGGREGATE",
    "COLLATION",
    "SEQUENCE",
    "FUNCTION",
    "TRIGGER",
    "DEFAULT",
    "COMMENT",
    "SCHEMA",
    "DOMAIN",
    "POLICY",
    "TABLE",
    "INDEX",
    "TYPE",
    "VIEW",
    "ACL",
)
_TOC_LINE = re.compile(r"^(\d+); (\d+) (\d+) (.*)$")
# The public schema belongs to the platform (it exists in every database, with its own owner and
# grants); only what lives in it is the app's.
_PLATFORM_TOC = re.compile(
    r"^\d+; \d+ \d+ (SCHEMA - public|COMMENT - SCHEMA public|ACL - SCHEMA public) "
)


def check_backup(manifest: Manifest, folder: Path, role: str, path: Path) -> str:
    """Check every member's SQL before any of it runs; the table of contents to restore.

    Raises RefusedError (naming the member, line and statement) for anything `lift-db dump`
    does not write.
    """
    schemas = _checked_schemas(manifest, path)
    for name, schema in manifest.extensions:
        if not (_NAME.match(name) or name == "uuid-ossp") or not _NAME.match(schema):
            raise RefusedError(f"{path}: the manifest names extension {name!r} in {schema!r}")
    listing = run_tool(
        [str(find_install().bin("pg_restore")), "--list", str(folder / APP_DUMP)],
        failure=BackupError,
    )
    toc = _restorable_toc(listing, schemas, f"{path}: {APP_DUMP}")
    (folder / "restore.list").write_text(toc)
    for _ in _statements(folder, path, schemas, role):
        pass
    return toc


def _checked_schemas(manifest: Manifest, path: Path) -> frozenset[str]:
    for schema in manifest.schemas:
        if (
            not _NAME.match(schema)
            or schema in _checksums.PLATFORM_SCHEMAS
            or schema.startswith("pg_")
            or schema == "information_schema"
        ):
            raise RefusedError(
                f"{path}: the manifest claims schema {schema!r} as the app's",
                "a backup restores only the app's own schemas; nothing was run",
            )
    if "public" not in manifest.schemas:
        raise RefusedError(f"{path}: the manifest lacks schema public")
    return frozenset(manifest.schemas)


def _restorable_toc(listing: str, schemas: frozenset[str], where: str) -> str:
    kept: list[str] = []
    for line in listing.splitlines():
        if not line.strip() or line.startswith(";") or _PLATFORM_TOC.match(line):
            continue
        match = _TOC_LINE.match(line)
        if match is None:
            raise RefusedError(f"{where}: unreadable table of contents entry {line[:200]!r}")
        rest = match.group(4)
        kind = next((k for k in _TOC_KINDS if rest.startswith(k + " ")), None)
        if kind is None:
            raise RefusedError(
                f"{where}: table of contents entry {line[:200]!r} is not an object pg_dump "
                "writes for an app schema",
                "a backup restores only the app's own schemas; nothing was run",
            )
        namespace, _, tag = rest[len(kind) + 1 :].partition(" ")
        on_schema = namespace == "-" and (
            (kind == "SCHEMA" and tag.split(" ")[0] in schemas)
            or (
                kind in ("COMMENT", "ACL")
                and tag.startswith("SCHEMA ")
                and tag.split(" ")[1] in schemas
            )
        )
        if namespace not in schemas and not on_schema:
            raise RefusedError(
                f"{where}: table of contents entry {line[:200]!r} lies outside the backup's "
                f"schemas ({', '.join(sorted(schemas))})",
                "a backup restores only the app's own schemas; nothing was run",
            )
        kept.append(line + "\n")
    return "".join(kept)


Item = tuple[str, Statement, CopyTarget | None] | str | object


def _statements(folder: Path, path: Path, schemas: frozenset[str], role: str) -> Iterator[Item]:
    """Every statement of the backup in the order it runs, checked: (member, statement, COPY
    target or None); a COPY's rows follow it (str lines, then END_OF_DATA)."""
    with (folder / AUTH_DATA).open(encoding="utf-8") as fh:
        ctx = Context(schemas, role, f"{path}: {AUTH_DATA}")
        yield from _checked(read_script(fh, ctx.where), ctx, AUTH_DATA)
    with _pg_restore_sql(folder) as fh:
        ctx = Context(schemas, role, f"{path}: {APP_DUMP}")
        yield from _checked(read_script(fh, ctx.where), ctx, APP_DUMP)
    with (folder / ATTACHMENTS).open(encoding="utf-8") as fh:
        ctx = Context(schemas, role, f"{path}: {ATTACHMENTS}")
        yield from _checked(read_script(fh, ctx.where), ctx, ATTACHMENTS)


def _checked(
    items: Iterator[Statement | str | object], ctx: Context, member: str
) -> Iterator[Item]:
    restrict: str | None = None
    for item in items:
        if not isinstance(item, Statement):
            yield item
            continue
        if member == APP_DUMP and item.text.startswith("\\"):
            # pg_restore's own guard lines (`\restrict <key>` / `\unrestrict <key>`, a random key
            # of its own): skipped, since no psql reads this SQL. Nothing else passes.
            words = item.text.split()
            if len(words) == 2 and words[0] == "\\restrict" and restrict is None:
                restrict = words[1]
                continue
            if len(words) == 2 and words[0] == "\\unrestrict" and words[1] == restrict:
                continue
        if member == AUTH_DATA:
            yield member, item, check_data_statement(item, ctx)
        elif member == ATTACHMENTS:
            check_attachment(item, ctx)
            yield member, item, None
        else:
            yield member, item, check_app_statement(item, ctx)


@contextmanager
def _pg_restore_sql(folder: Path) -> Iterator[LineSource]:
    """The SQL pg_restore makes of the archive's checked table of contents, streamed; its size
    is limited like a member's (LIFT_DB_BACKUP_MAX_BYTES)."""
    limit = member_limits().sizes.get(APP_DUMP, DEFAULT_MAX_MEMBER)
    argv = [
        str(find_install().bin("pg_restore")),
        "--file=-",
        f"--use-list={folder / 'restore.list'}",
        str(folder / APP_DUMP),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=errors, stdin=subprocess.DEVNULL, env=env
        )
        if proc.stdout is None:
            raise BackupError("pg_restore gave no output")
        stream = _Limited(io.TextIOWrapper(proc.stdout, encoding="utf-8", errors="strict"), limit)
        try:
            yield stream
        except UnicodeDecodeError as exc:
            raise RefusedError(f"{APP_DUMP}: SQL that is not UTF-8 ({exc})") from None
        finally:
            proc.stdout.close()
            code = proc.wait()
        if code != 0:
            errors.seek(0)
            detail = errors.read().decode(errors="replace").strip()[-2000:]
            raise BackupError(f"pg_restore failed on {APP_DUMP}: {detail or code}")


class _Limited:
    """A text stream that refuses to yield more than `limit` characters."""

    def __init__(self, inner: LineSource, limit: int) -> None:
        self.inner = inner
        self.limit = limit
        self.read_so_far = 0

    def readline(self, size: int = -1) -> str:
        line = self.inner.readline(size)
        self.read_so_far += len(line)
        if self.read_so_far > self.limit:
            raise RefusedError(
                f"{APP_DUMP} expands to more than {self.limit} bytes of SQL",
                "for a larger backup raise LIFT_DB_BACKUP_MAX_BYTES (bytes)",
            )
        return line


# -- running it ----------------------------------------------------------------------------------


def _restore_into(target: Target, manifest: Manifest, folder: Path, toc: str, role: str) -> None:
    (folder / "restore.list").write_text(toc)  # as checked by check_backup
    schemas = frozenset(manifest.schemas)
    with target.connect() as conn:
        try:
            with conn.transaction():
                # One snapshot: what others commit meanwhile shows neither before nor after, so
                # the comparison of what lies outside the app sees the restore's changes alone.
                conn.execute("set transaction isolation level repeatable read")
                _create_extensions(conn, manifest)
                conn.execute(
                    sql.SQL(_LOAD_EXTENSION_LIBRARIES).format(
                        sql.Literal([name for name, _ in manifest.extensions])
                    )
                )
                kept = _footprint.public_objects(conn)
                before = _footprint.take(conn, manifest.schemas, kept)
                writes = _footprint.writes(conn)
                rows_before = _footprint.table_writes(conn, manifest.schemas, kept)
                for statement in _neutral_default_privileges(conn, manifest.schemas):
                    conn.execute(statement)
                copied = _run(conn, _statements(folder, Path("the backup"), schemas, role))
                conn.execute("reset role")
                conn.execute("set local search_path = ''")
                _verify(conn, manifest, copied)
                _verify_footprint(conn, manifest, kept, before, writes)
                _verify_rows_outside(conn, manifest, kept, rows_before, copied)
        except psycopg.Error as exc:
            raise RestoreError(
                f"restore failed: {exc.diag.message_primary or exc}"
                f" [SQLSTATE {exc.diag.sqlstate}] ({ROLLED_BACK})"
            ) from exc
        except LiftDbError as exc:
            if isinstance(exc, RestoreError) and ROLLED_BACK in exc.message:
                raise
            raise RestoreError(f"{exc.message} ({ROLLED_BACK})", exc.hint) from exc


def _create_extensions(conn: psycopg.Connection[TupleRow], manifest: Manifest) -> None:
    for name, schema in manifest.extensions:
        row = conn.execute(
            "select 1 from pg_catalog.pg_extension where extname = %s", (name,)
        ).fetchone()
        if row is not None:
            continue
        if name not in SAFE_EXTENSIONS or schema in manifest.schemas:
            raise RestoreError(
                f"the backup needs extension {name} (in schema {schema}), which the target lacks"
                " and a restore does not install",
                f"install {name} on the target first if you trust it, then restore again",
            )
        conn.execute(
            sql.SQL("create extension if not exists {} with schema {}").format(
                sql.Identifier(name), sql.Identifier(schema)
            )
        )


def _run(conn: psycopg.Connection[TupleRow], items: Iterator[Item]) -> dict[str, int]:
    """Run the checked statements; the rows COPY wrote into each auth table."""
    copied: dict[str, int] = {}
    for item in items:
        if not isinstance(item, tuple):
            raise RestoreError("COPY rows without their COPY statement")
        member, statement, target = item
        if target is None:
            _exec_one(conn, statement, member)
            continue
        # The COPY statement is ours, built from the checked names; the rows are only data.
        query = sql.SQL("copy {} ({}) from stdin").format(
            sql.Identifier(target.schema, target.table),
            sql.SQL(", ").join(map(sql.Identifier, target.columns)),
        )
        with conn.cursor() as cur:
            with cur.copy(query) as copy:
                for row in items:
                    if row is END_OF_DATA:
                        break
                    if not isinstance(row, str):
                        raise RestoreError("a COPY without its rows")
                    copy.write(row)
            if member == AUTH_DATA:
                name = f"{target.schema}.{target.table}"
                copied[name] = copied.get(name, 0) + max(cur.rowcount, 0)
    return copied


def _exec_one(conn: psycopg.Connection[TupleRow], statement: Statement, member: str) -> None:
    """One statement through the extended protocol, which refuses a second one hidden in it."""
    result = conn.pgconn.exec_params(statement.text.encode(), [])
    status = result.status
    if status not in (psycopg.pq.ExecStatus.COMMAND_OK, psycopg.pq.ExecStatus.TUPLES_OK):
        message = (result.error_message or b"").decode(errors="replace").strip()
        raise RestoreError(
            f"restore failed at {member} line {statement.line} "
            f"({' '.join(statement.text.split()[:6])} …): {message} ({ROLLED_BACK})"
        )
    if conn.pgconn.transaction_status != psycopg.pq.TransactionStatus.INTRANS:
        raise RestoreError(f"{member} line {statement.line} left the restore's transaction")


def _verify(conn: psycopg.Connection[TupleRow], manifest: Manifest, copied: dict[str, int]) -> None:
    """Every table, grant and attachment as the manifest says, computed by lift-db's own
    queries (the manifest gives only the expected figures)."""
    conn.execute("set local timezone = 'UTC'")
    conn.execute("set local extra_float_digits = 3")
    schemas = _checksums.app_schemas(conn)
    if sorted(schemas) != sorted(manifest.schemas):
        raise RestoreError(
            f"the restored app schemas ({', '.join(schemas)}) differ from the backup's "
            f"({', '.join(manifest.schemas)})"
        )
    sources = _checksums.sources(conn)
    if sorted(sources) != sorted(manifest.tables):
        extra = sorted(set(sources) - set(manifest.tables))
        missing = sorted(set(manifest.tables) - set(sources))
        raise RestoreError(
            f"the restored tables differ from the backup's: extra {extra}, missing {missing}"
        )
    for name, entry in manifest.tables.items():
        row = conn.execute(_checksums.digest_query(sources[name])).fetchone()
        n, h = (int(row[0]), str(row[1])) if row else (-1, "")
        if n != entry.rows or h != entry.md5:
            raise RestoreError(
                f"restored {name} differs from the backup: {n} rows (checksum {h}), the backup "
                f"holds {entry.rows} rows (checksum {entry.md5})"
            )
    for name, count in copied.items():
        if name in manifest.tables and count != manifest.tables[name].rows:
            raise RestoreError(
                f"the backup loads {count} rows into {name}, its manifest lists "
                f"{manifest.tables[name].rows}"
            )
    granted = [str(r[0]) for r in conn.execute(_checksums.privileges_query(manifest.schemas))]
    _same("restored privileges differ from the backup", granted, manifest.privileges)
    attached = [str(r[0]) for r in conn.execute(_checksums.attachments_query(manifest.schemas))]
    _same(
        "restored attachments to platform objects differ from the backup",
        attached,
        manifest.attachments,
    )


def _same(what: str, found: list[str], expected: list[str]) -> None:
    extra = sorted(set(found) - set(expected))
    missing = sorted(set(expected) - set(found))
    if extra or missing:
        raise RestoreError(f"{what}: extra {extra[:10]}, missing {missing[:10]}")


def _verify_footprint(
    conn: psycopg.Connection[TupleRow],
    manifest: Manifest,
    kept: list[int],
    before: frozenset[str],
    writes: dict[str, int],
) -> None:
    after = _footprint.take(conn, manifest.schemas, kept)
    now = _footprint.writes(conn)
    written = sorted(name for name, count in now.items() if count != writes.get(name, 0))
    if before != after or written:
        detail = _footprint.differences(before, after) if before != after else ""
        raise RestoreError(
            "the backup changed what lies outside its own schemas"
            + (f": {detail}" if detail else "")
            + (f" (wrote to {', '.join(written)})" if written else ""),
            "a backup restores only the app's own data; this one was refused",
        )


def _verify_rows_outside(
    conn: psycopg.Connection[TupleRow],
    manifest: Manifest,
    kept: list[int],
    before: dict[str, tuple[int, int, int]],
    copied: dict[str, int],
) -> None:
    """Outside the app's schemas the restore writes only the auth rows it loaded by COPY."""
    after = _footprint.table_writes(conn, manifest.schemas, kept)
    wrong: list[str] = []
    for name in sorted(set(after) | set(copied)):
        was = before.get(name, (0, 0, 0))
        now = after.get(name, (0, 0, 0))
        inserted, updated, deleted = (now[k] - was[k] for k in range(3))
        if (inserted, updated, deleted) != (copied.get(name, 0), 0, 0):
            wrong.append(
                f"{name}: {inserted} rows inserted, {updated} updated, {deleted} deleted"
                f" (the backup loads {copied.get(name, 0)})"
            )
    if wrong:
        raise RestoreError(
            "the backup changed what lies outside its own schemas: " + "; ".join(wrong[:8]),
            "a backup restores only the app's own data; this one was refused",
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


def _neutral_default_privileges(
    conn: psycopg.Connection[TupleRow], schemas: list[str]
) -> list[sql.Composed]:
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
    statements: list[sql.Composed] = []
    for schema, kind, grantee in rows:
        if kind not in _DEFAULT_ACL_KINDS:
            continue
        who = sql.SQL("public") if grantee == "public" else sql.Identifier(str(grantee))
        statements.append(
            sql.SQL("alter default privileges in schema {} revoke all on {} from {}").format(
                sql.Identifier(str(schema)), sql.SQL(_DEFAULT_ACL_KINDS[kind]), who
            )
        )
    return statements
