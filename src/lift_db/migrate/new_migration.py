"""`lift-db new NAME`: a new migration file, named as `supabase migration new` names it.

`supabase/migrations/<UTC timestamp>_<name>.sql`, started with the project's header: the reason
the file exists, then the timeouts every migration sets (docs/migrations.md says why).
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

from lift_db.errors import MigrationNameError
from lift_db.local.project import Project

NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$", re.ASCII)
MAX_NAME_LENGTH = 60
VERSION_FORMAT = "%Y%m%d%H%M%S"
_VERSION = re.compile(r"^([0-9]+)_", re.ASCII)
# The first word says what the migration does to the schema (docs/migrations.md).
VERBS = frozenset(
    ("add", "allow", "alter", "backfill", "bound", "cap", "change", "create", "drop", "enable",
     "disable", "fix", "grant", "harden", "index", "let", "make", "move", "record", "remove",
     "rename", "replace", "restrict", "revoke", "rewrite", "set", "split", "track", "use",
     "validate")
)  # fmt: skip

TEMPLATE = """\
-- Why: {reason}

-- Fail fast rather than queue behind live traffic (docs/migrations.md, "Lock-safe DDL").
set lock_timeout = '5s';
set statement_timeout = '60s';
"""
REASON_PLACEHOLDER = (
    "<what problem this migration solves, and why this change is the fix; a reviewer reads this\n"
    "-- first>"
)


def header() -> str:
    """What a new migration starts with."""
    return TEMPLATE.format(reason=REASON_PLACEHOLDER)


def check_name(name: str) -> None:
    if not NAME.match(name) or len(name) > MAX_NAME_LENGTH:
        raise MigrationNameError(
            f"migration name {name!r} is not a snake_case name of at most {MAX_NAME_LENGTH} "
            "characters (a-z, 0-9, single underscores, starting with a letter)",
            "name what it does, verb first: `lift-db new add_sessions_title_index`",
        )


def create(
    project: Project, name: str, now: datetime | None = None, body: str = ""
) -> tuple[Path, list[str]]:
    """Write the file (the header, then `body` after a blank line); return it and the notes to
    show (a renumbered version, a naming hint)."""
    check_name(name)
    notes: list[str] = []
    version = int((now or datetime.now(UTC)).strftime(VERSION_FORMAT))
    latest = latest_version(project.migrations_dir)
    if latest is not None and version <= latest:
        # A file older than the last one would be refused by `supabase db push` and the lock.
        notes.append(
            f"the clock's version {version} does not sort after the latest migration "
            f"({latest}): using {latest + 1}"
        )
        version = latest + 1
    if name.split("_")[0] not in VERBS:
        notes.append(
            f"convention: names start with what the migration does ({', '.join(sorted(VERBS)[:6])}"
            ", …), e.g. add_" + name
        )
    project.migrations_dir.mkdir(parents=True, exist_ok=True)
    path = project.migrations_dir / f"{version}_{name}.sql"
    # O_EXCL: never overwrite, even when two runs pick the same second.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except FileExistsError:
        raise MigrationNameError(
            f"{path.relative_to(project.root)} already exists", "run `lift-db new` again"
        ) from None
    with os.fdopen(fd, "w") as fh:
        fh.write(header() + ("\n" + body if body else ""))
    return path, notes


def latest_version(migrations_dir: Path) -> int | None:
    versions = [
        int(m.group(1))
        for p in migrations_dir.glob("*.sql")
        if (m := _VERSION.match(p.name)) is not None
    ]
    return max(versions, default=None)
