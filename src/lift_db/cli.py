"""`lift-db`: the Docker-free local Supabase-compatible stack and the migration runner."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from lift_db.backup import dump, restore
from lift_db.errors import LiftDbError
from lift_db.local.keys import LocalKeys
from lift_db.local.project import Project, find_project
from lift_db.local.server import LocalServer
from lift_db.local.target import Target, resolve_target
from lift_db.migrate import commands, new_migration, runner
from lift_db.review import diff_commands, lint_gates

EXIT_NOT_RUNNING = 3


def _report(message: str) -> None:
    print(message, flush=True)


def _progress(message: str) -> None:
    """Progress and notes of a command whose stdout is its result."""
    print(message, file=sys.stderr, flush=True)


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range 1-65535: {port}")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lift-db",
        description="Local Supabase-compatible PostgreSQL (no Docker) and the migration runner.",
    )
    parser.add_argument(
        "--db-url",
        help="act on this existing database instead of the local server "
        "(default: $DATABASE_URL, else the local server)",
    )
    parser.add_argument(
        "--install-platform",
        action="store_true",
        help="on a --db-url database that is not a Supabase database, create the missing roles, "
        "schemas and functions of the platform layer; the roles it creates cannot log in and have "
        "no password (by default lift-db refuses such a database, naming what it lacks)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    start = sub.add_parser("start", help="start the local server (reuses a running one)")
    start.add_argument(
        "--port",
        type=_port,
        default=_port(os.environ["LIFT_DB_PORT"]) if os.environ.get("LIFT_DB_PORT") else None,
        help="TCP port on 127.0.0.1 (default: $LIFT_DB_PORT, else [db] port of config.toml)",
    )
    sub.add_parser("stop", help="stop the local server")
    sub.add_parser("status", help="is the server up, where, and how many migrations applied")
    sub.add_parser("migrate", help="apply pending migrations")
    sub.add_parser(
        "reset", help="fresh database, platform layer, every migration, then the seed files"
    )
    sub.add_parser("url", help="print the connection URL of the target")
    lock_cmd = sub.add_parser(
        "lock", help="append new migrations to supabase/migrations.lock (with their sha256)"
    )
    lock_cmd.add_argument(
        "--check",
        action="store_true",
        help="change nothing; fail, naming the file, unless the lock covers every migration "
        "unchanged and in order",
    )
    snapshot_cmd = sub.add_parser(
        "snapshot",
        help="regenerate docs/schema/ (one file per object) and docs/ERD.md on a scratch database",
    )
    snapshot_cmd.add_argument(
        "--check",
        action="store_true",
        help="change nothing; fail when docs/schema/ or docs/ERD.md is stale",
    )
    new = sub.add_parser(
        "new",
        help="create supabase/migrations/<UTC timestamp>_<name>.sql with the project's header",
    )
    new.add_argument("name", help="snake_case, verb first: add_sessions_title_index")
    token = sub.add_parser(
        "token",
        help="print an access token for a user of the target database, signed as the local "
        "stack signs (for tests and scripts)",
    )
    token.add_argument("--user", required=True, help="the user's email or id (auth.users)")
    token.add_argument(
        "--role", default="authenticated", choices=("authenticated", "anon"), help="role claim"
    )
    token.add_argument(
        "--expires-in", type=int, default=3600, metavar="SECONDS", help="lifetime (default 3600)"
    )
    diff = sub.add_parser(
        "diff",
        help="SQL from the schema the migrations build to the local database's (or the "
        "declarative schema's), verified on a scratch database; refuses what it cannot reproduce",
    )
    diff.add_argument(
        "-f",
        "--file",
        metavar="NAME",
        help="write it as a new migration supabase/migrations/<UTC timestamp>_NAME.sql "
        "(default: print it)",
    )
    diff.add_argument(
        "--from-schemas",
        action="store_true",
        help="target the declarative schema: supabase/schemas/ applied in the order of "
        "[db.migrations] schema_paths (the default when config.toml names supabase/schemas/)",
    )
    diff.add_argument(
        "--with-partitions",
        action="store_true",
        help="include partitions made at run time (by the partition maintenance job or the seed) "
        "of tables the migrations create; left out by default",
    )
    diff.add_argument(
        "--db-url", default=argparse.SUPPRESS, help="target this database instead of the local one"
    )
    drift_cmd = sub.add_parser(
        "drift",
        help="compare a live database's app schemas with what its applied migrations build; "
        "exit 1 on any difference",
    )
    drift_cmd.add_argument(
        "--db-url",
        default=argparse.SUPPRESS,
        help="the database to check (default: $DATABASE_URL, else the local server)",
    )
    sub.add_parser(
        "compat",
        help="fail on SQL (migrations, pgTAP, seed) that production's PostgreSQL major version "
        "([db] major_version) cannot parse or run",
    )
    dump = sub.add_parser(
        "dump",
        help="back up the app's schemas, migration history and the auth users they reference",
    )
    dump.add_argument(
        "-o",
        "--output",
        type=Path,
        help="backup file to write (must not exist; default: lift-db-backup-<UTC time>.tar)",
    )
    restore = sub.add_parser(
        "restore",
        help="restore a backup: the local server's database is replaced; a --db-url target "
        "must be a fresh database",
    )
    restore.add_argument("file", type=Path, help="a file written by `lift-db dump`")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except LiftDbError as exc:
        print(f"lift-db: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    project = find_project()
    command: str = args.command
    if command == "lock":
        return lint_gates.lock_command(project, check=args.check, report=_report)
    if command == "new":
        path, notes = new_migration.create(project, args.name)
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        print(f"created {path.relative_to(project.root)}")
        return 0
    if command == "compat":
        return lint_gates.compat_command(project, report=_report)
    if command == "diff":
        return diff_commands.diff_command(
            project,
            args.file,
            args.from_schemas,
            args.db_url,
            args.with_partitions,
            out=_report,
            report=_progress,
        )
    if command == "drift":
        return diff_commands.drift_command(project, args.db_url, report=_report)
    if command == "snapshot":
        if args.db_url:
            raise LiftDbError(
                "`lift-db snapshot` builds on a scratch database of the local server",
                "drop --db-url",
            )
        return lint_gates.snapshot_command(project, check=args.check, report=_report)
    if command in ("start", "stop"):
        if args.db_url:
            raise LiftDbError(
                f"`lift-db {command}` manages the local server; --db-url names an existing one",
                f"drop --db-url to {command} the local server",
            )
        server = LocalServer.for_project(project)
        if command == "stop":
            print(
                "stopped the local server" if server.stop() else "the local server is not running"
            )
            return 0
        url = server.start(port=args.port)
        commands.prepare(Target(url=url, admin_url=server.admin_url(), local=server), _report)
        print(f"local server ready: {url}")
        return 0
    target = resolve_target(project, args.db_url)
    if args.install_platform:
        if target.local is not None:
            raise LiftDbError(
                "--install-platform is for a database named by --db-url or DATABASE_URL",
                "drop it: the local server gets the platform layer by itself",
            )
        target = dataclasses.replace(target, install_platform=True)
    if command == "url":
        print(target.url)
        return 0
    if command == "status":
        return _status(project, target)
    if command == "token":
        return _token(project, target, args.user, args.role, args.expires_in)
    if target.local is not None and not target.local.is_running():
        raise LiftDbError(
            "the local server is not running", "start it with `lift-db start` (or `make db`)"
        )
    if command == "migrate":
        commands.migrate(project, target, _report)
    elif command == "dump":
        output = args.output or dump.default_output()
        dump.dump(target, output, _report)
        print(f"backup written: {output}")
    elif command == "restore":
        if target.local is not None:
            restore.restore_local(target, args.file, _report)
        else:
            restore.restore(target, args.file, _report)
        print(f"database restored: {target.describe()}")
    elif command == "reset":
        commands.reset(project, target, _report)
        print(f"database reset: {target.describe()}")
    return 0


def _token(project: Project, target: Target, user: str, role: str, expires_in: int) -> int:
    keys = LocalKeys.for_project(project)
    with target.connect() as conn:
        row = conn.execute(
            "select id, email from auth.users where id::text = %s or lower(email) = lower(%s)",
            (user, user),
        ).fetchone()
    if row is None:
        raise LiftDbError(
            f"no user {user!r} in auth.users of {target.describe()}",
            "give the email or id of an existing user (make db seeds ada@demo.lift-sys.dev)",
        )
    user_id, email = row
    print(keys.user_token(user_id, email=email, role=role, expires_in=expires_in))
    return 0


def _status(project: Project, target: Target) -> int:
    if target.local is not None:
        server = target.local
        pid = server.postmaster_pid()
        if pid is None:
            print(f"local server: not running (data: {server.data_dir})")
            return EXIT_NOT_RUNNING
        print(f"local server: running, pid {pid}, data {server.data_dir}")
    with target.connect() as conn:
        row = conn.execute("show server_version").fetchone()
        version = row[0] if row else "?"
        exists = conn.execute(
            "select to_regclass('supabase_migrations.schema_migrations') is not null"
        ).fetchone()
        files = runner.discover(project.migrations_dir)
        history = runner.applied(conn) if exists and exists[0] else []
    print(f"url: {target.describe()}")
    print(f"server version: {version}")
    print(f"migrations: {len(history)} applied, {len(runner.pending(files, history))} pending")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
