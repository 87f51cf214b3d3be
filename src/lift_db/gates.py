"""`lift-db lock` and `lift-db snapshot`: the review gates' commands, with their `--check` forms."""

from __future__ import annotations

from collections.abc import Callable

from lift_db import lock, migrations, snapshot
from lift_db.project import Project
from lift_db.server import LocalServer

Report = Callable[[str], None]


def lock_command(project: Project, check: bool, report: Report) -> int:
    if check:
        lock.verify(project)
        locked = len(lock.read_lock(lock.lock_path(project)))
        report(f"{lock.LOCK_NAME}: {locked} migrations locked, none edited, removed or renamed")
        return 0
    added = lock.append(project)
    for file in added:
        report(f"locked {file.filename} ({file.sha256[:12]}…)")
    if not added:
        report(f"{lock.LOCK_NAME}: every migration is already locked")
    return 0


def snapshot_command(project: Project, check: bool, report: Report) -> int:
    files = migrations.discover(project.migrations_dir)
    built = snapshot.build(LocalServer.for_project(project), files)
    docs = project.root / "docs"
    if check:
        snapshot.verify(built, docs)
        report("docs/schema.sql and docs/ERD.md match the migrations")
        return 0
    written = snapshot.write(built, docs)
    for path in written:
        report(f"wrote {path.relative_to(project.root)}")
    if not written:
        report("docs/schema.sql and docs/ERD.md were already current")
    return 0
