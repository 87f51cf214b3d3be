"""What `lift-db migrate` and `lift-db reset` do to a target database."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.rows import TupleRow

from lift_db.errors import LiftDbError
from lift_db.local import project_files
from lift_db.local.platform_layer import ensure_platform_layer, require_platform_layer
from lift_db.local.project import Project
from lift_db.local.target import Target, connect
from lift_db.migrate import runner

Report = Callable[[str], None]


def _connect(target: Target) -> psycopg.Connection[TupleRow]:
    """A connection that pg_stat_activity shows as lift-db's (a lock holder is recognisable)."""
    return connect(make_conninfo(target.url, application_name=runner.APPLICATION_NAME))


def prepare(target: Target, report: Report) -> None:
    """Install the platform layer where the local server's database lacks it; any other database
    must have it already (a Supabase database does), or `target.install_platform` says to create
    what is missing, without logins or passwords."""
    with target.connect(admin=True) as conn:
        # Only the local server's superuser URL is known (see Target).
        if target.admin_url is not None:
            if ensure_platform_layer(conn):
                report("installed the Supabase platform layer")
            return
        created = require_platform_layer(conn, install=target.install_platform)
        if created:
            report(
                "installed the Supabase platform layer's missing parts (roles without login "
                f"or password): {', '.join(created)}"
            )


def migrate(project: Project, target: Target, report: Report) -> int:
    files = runner.discover(project.migrations_dir, project.root)
    prepare(target, report)
    with _connect(target) as conn:
        done = runner.migrate(conn, files, report)
    if not done:
        report("no pending migrations")
    return len(done)


def seed_texts(project: Project) -> list[tuple[Path, str]]:
    """The seed files with their text; a link or a file outside the project is refused."""
    return [
        (path, project_files.read_sql(path, "seed file", project.root))
        for path in project.seed_files()
    ]


def seed(project: Project, target: Target, report: Report) -> None:
    """Run the seed files of `[db.seed] sql_paths`, each in one transaction, as `db reset` does.

    A seed file may not write the migration history: that would let it mark a migration applied.
    """
    files = seed_texts(project)
    with _connect(target) as conn:
        for path, text in files:
            rel = path.relative_to(project.root).as_posix()
            before = _migration_history(conn)
            try:
                with conn.transaction():
                    conn.execute(text.encode())
                    if _migration_history(conn) != before:
                        raise LiftDbError(
                            f"seed file {rel} changed supabase_migrations.schema_migrations or "
                            "migration_checksums; it was rolled back",
                            f"remove those statements from {rel}: seed data never writes the "
                            "migration history",
                        )
                    conn.execute(
                        "insert into supabase_migrations.seed_files (path, hash) values (%s, %s)"
                        " on conflict (path) do update set hash = excluded.hash",
                        (rel, hashlib.sha256(text.encode()).hexdigest()),
                    )
            except psycopg.Error as exc:
                raise LiftDbError(
                    f"seed file {rel} failed: {exc.diag.message_primary or exc}"
                    f" [SQLSTATE {exc.diag.sqlstate}]; it was rolled back",
                    f"fix {rel} and run `lift-db reset` again",
                ) from exc
            report(f"seeded {rel}")


def _migration_history(conn: psycopg.Connection[TupleRow]) -> list[object]:
    queries = (
        "select * from supabase_migrations.schema_migrations",
        "select * from supabase_migrations.migration_checksums",
    )
    return [sorted(map(repr, conn.execute(query).fetchall())) for query in queries]


def reset(project: Project, target: Target, report: Report) -> None:
    """Fresh database, platform layer, every migration, then the seed files."""
    # Validate the files before dropping anything: a bad name must not cost the old database.
    files = runner.discover(project.migrations_dir, project.root)
    seed_texts(project)
    recreate_database(target, report)
    prepare(target, report)
    with _connect(target) as conn:
        runner.migrate(conn, files, report)
    seed(project, target, report)


def recreate_database(target: Target, report: Report) -> None:
    url = target.admin_url or target.url
    dbname = str(psycopg.conninfo.conninfo_to_dict(url).get("dbname") or "postgres")
    maintenance = psycopg.conninfo.make_conninfo(
        url, dbname="template1" if dbname != "template1" else "postgres"
    )
    try:
        with connect(maintenance) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(dbname))
            )
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(dbname)))
    except psycopg.Error as exc:
        raise LiftDbError(
            f"cannot recreate database {dbname}: {exc.diag.message_primary or exc}",
            "against a Supabase stack use `supabase db reset`; otherwise use a URL whose role "
            "may drop and create the database",
        ) from exc
    report(f"recreated database {dbname}")
