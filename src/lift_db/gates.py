"""`lift-db lock`: the review gates' commands, with their `--check` forms."""

from __future__ import annotations

from collections.abc import Callable

from lift_db import lock
from lift_db.project import Project

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
