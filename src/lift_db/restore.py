"""`lift-db restore`: a backup written by `lift-db dump` (see `lift_db.backup`), back in a database.

The restore is one psql script run as one transaction: the backup's extensions (and their
libraries), the target's default privileges in the restored schemas lifted, the auth rows, the
pg_dump archive, the attachments to platform objects, and last a check of every table (row count
and checksum), every grant and every attachment against the manifest. It commits only if all of
them match: a restore either reproduces the backup exactly or leaves the target as it was.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow

from lift_db import digest
from lift_db.backup import (
    APP_DUMP,
    ATTACHMENTS,
    AUTH_DATA,
    BackupError,
    Manifest,
    Report,
    open_backup,
    run_tool,
)
from lift_db.binaries import find_install
from lift_db.errors import LiftDbError
from lift_db.stack import prepare
from lift_db.target import Target, connect


class RestoreError(LiftDbError):
    """The target cannot take the backup, or the restore failed (and was rolled back)."""


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
        _restorable_toc(
            run_tool([pg_restore, "--list", str(folder / APP_DUMP)], failure=BackupError)
        )
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
            run_tool(
                [pg_restore, "--file=-", f"--use-list={toc}", str(folder / APP_DUMP)],
                failure=BackupError,
            )
        )
        out.write("set search_path = '';\n")
        out.write((folder / ATTACHMENTS).read_text())
        out.write(_verification(conn, manifest))
    run_tool(
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
        failure=RestoreError,
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
