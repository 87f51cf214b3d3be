"""`lift-db lock`, `snapshot` and `compat`: the review gates' commands, with their check forms."""

from __future__ import annotations

from collections.abc import Callable

from lift_db.local.project import Project
from lift_db.local.server import LocalServer
from lift_db.migrate import lockfile, runner
from lift_db.review import _compat, _snapshot

Report = Callable[[str], None]


def lock_command(project: Project, check: bool, report: Report) -> int:
    if check:
        lockfile.verify(project)
        locked = len(lockfile.read_lock(lockfile.lock_path(project)))
        report(f"{lockfile.LOCK_NAME}: {locked} migrations locked, none edited, removed or renamed")
        return 0
    added = lockfile.append(project)
    for file in added:
        report(f"locked {file.filename} ({file.sha256[:12]}…)")
    if not added:
        report(f"{lockfile.LOCK_NAME}: every migration is already locked")
    return 0


def snapshot_command(project: Project, check: bool, report: Report) -> int:
    files = runner.discover(project.migrations_dir)
    built = _snapshot.build(LocalServer.for_project(project), files)
    docs = project.root / "docs"
    if check:
        _snapshot.verify(built, docs)
        report("docs/schema/ and docs/ERD.md match the migrations")
        return 0
    written = _snapshot.write(built, docs)
    for path in written:
        report(f"{'wrote' if path.exists() else 'removed'} {path.relative_to(project.root)}")
    if not written:
        report("docs/schema/ and docs/ERD.md were already current")
    return 0


def compat_command(project: Project, report: Report) -> int:
    files, findings = _compat.check_project(project)
    major = _compat.production_major(project)
    if findings:
        for finding in findings:
            report(finding.render(project.root))
        raise _compat.CompatibilityError(
            f"{len(findings)} use(s) of what PostgreSQL {major} (production) does not have",
            f"rewrite them for PostgreSQL {major}; the local server is newer than production",
        )
    report(f"{len(files)} SQL files parse and run on PostgreSQL {major} (production's version)")
    return 0
