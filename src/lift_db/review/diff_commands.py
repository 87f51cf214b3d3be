"""`lift-db diff` and `lift-db drift`: the change workflow's commands."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from lift_db.errors import LiftDbError
from lift_db.local.project import Project
from lift_db.local.server import LocalServer
from lift_db.local.target import redact, resolve_target
from lift_db.migrate import new_migration, runner
from lift_db.review import _declarative, _drift, _schema_diff

Report = Callable[[str], None]


def _running_server(project: Project, command: str) -> LocalServer:
    server = LocalServer.for_project(project)
    if not server.is_running():
        raise LiftDbError(
            f"`lift-db {command}` builds the migrations' schema on a scratch database of the local "
            "server, which is not running",
            "start it with `make db` (or `lift-db start`)",
        )
    return server


@contextlib.contextmanager
def _diff_target(
    project: Project, server: LocalServer, db_url: str | None, from_schemas: bool, report: Report
) -> Iterator[str]:
    """The URL of the schema to reach: the declarative state, `--db-url`, or the local database."""
    if from_schemas or (db_url is None and _declarative.enabled(project)):
        if db_url is not None:
            raise LiftDbError(
                "--from-schemas and --db-url name two different targets", "drop one of them"
            )
        report("target: the declarative schema (supabase/schemas/, [db.migrations] schema_paths)")
        with _declarative.built_database(server, project) as dbname:
            yield server.admin_url(dbname)
        return
    target = resolve_target(project, db_url)
    if target.local is not None and not target.local.is_running():
        raise LiftDbError("the local server is not running", "start it with `make db`")
    report(f"target: {target.describe()}")
    yield target.admin_url or target.url


def diff_command(
    project: Project,
    name: str | None,
    from_schemas: bool,
    db_url: str | None,
    with_partitions: bool,
    out: Report,
    report: Report,
) -> int:
    if name is not None:
        new_migration.check_name(name)
    server = _running_server(project, "diff")
    files = runner.discover(project.migrations_dir)
    with _diff_target(project, server, db_url, from_schemas, report) as target_url:
        result = _schema_diff.generate(
            server,
            files,
            target_url,
            new_migration.header(),
            report,
            with_partitions,
            style_config=project.root / ".sqlfluff",
        )
    if not result.body:
        report(f"no changes: the {len(files)} migrations build the target schema")
        return 0
    if name is None:
        out(new_migration.header() + "\n" + result.body)
        return 0
    path, notes = new_migration.create(project, name, body=result.body)
    for note in notes:
        report(f"note: {note}")
    report(
        f"created {path.relative_to(project.root)}, verified: the migrations plus this file build "
        "the target schema; write its `-- Why:` line, then `make lock` and `make snapshot`"
    )
    return 0


def drift_command(project: Project, db_url: str | None, report: Report) -> int:
    server = _running_server(project, "drift")
    target = resolve_target(project, db_url)
    if target.local is not None and not target.local.is_running():
        raise LiftDbError("the local server is not running", "start it with `make db`")
    live_url = target.admin_url or target.url
    files = runner.discover(project.migrations_dir)
    result = _drift.check(server, files, live_url, report)
    for line in _drift.render(result, live_url):
        report(line)
    where = redact(live_url)
    if not result.clean:
        raise _drift.DriftError(
            f"drift: {where} differs from what its {result.applied} applied migrations build "
            f"({len(result.differences) + len(result.unknown)} difference(s))",
            "bring the change into a migration (make it on the local database, then "
            "`lift-db diff -f NAME`), or undo it on the database; push only once drift reports "
            "none",
        )
    report(f"no drift: {where} holds what its {result.applied} applied migrations build")
    return 0
