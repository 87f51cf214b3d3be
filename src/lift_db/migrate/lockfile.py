"""The migration lock: `supabase/migrations.lock`, every migration in order with its checksum.

The Supabase CLI compares migration versions only, so a deployed migration that is edited later
silently diverges between environments. The lock is committed next to the migrations; the check
(`lift-db lock --check`, part of `make lint`) refuses when a locked migration was edited, removed or
renamed, when a new migration sorts before a locked one, and when a migration is not locked yet.
`lift-db lock` appends the new migrations. A lock line is never changed: a pull request's diff of
the lock only adds lines at its end.

The checksum is `MigrationFile.sha256`, the one the runner records in
`supabase_migrations.migration_checksums`, so the lock and a database's history agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lift_db.errors import MigrationError
from lift_db.local.project import Project
from lift_db.migrate import runner
from lift_db.migrate.runner import MigrationFile

LOCK_NAME = "migrations.lock"
HEADER = """\
# Migration lock: every migration of supabase/migrations in order, with the sha256 of its text.
# `make lock` appends new migrations; `make lint` fails when a locked migration was edited,
# removed or renamed, or when a new one sorts before a locked one. Never edit a line by hand:
# change the schema with a new migration instead.
"""
_LINE = re.compile(r"^(?P<sha256>[0-9a-f]{64})  (?P<filename>\S+)$")
FIX_EDITED = "restore it as it was (git checkout) and put the change in a new migration"
FIX_UNLOCKED = "run `make lock` (or `lift-db lock`) and commit supabase/migrations.lock"


class MigrationLockError(MigrationError):
    """The migrations on disk break the lock, or the lock file itself is unusable."""


@dataclass(frozen=True)
class LockEntry:
    filename: str
    sha256: str
    line: int

    @property
    def version(self) -> str:
        return self.filename.split("_", 1)[0]


@dataclass(frozen=True)
class LockReport:
    """What the migrations on disk do to the lock."""

    problems: list[str]
    unlocked: list[MigrationFile]

    @property
    def ok(self) -> bool:
        return not self.problems and not self.unlocked


def lock_path(project: Project) -> Path:
    return project.supabase_dir / LOCK_NAME


def read_lock(path: Path) -> list[LockEntry]:
    """The entries of a lock file; a missing file is an empty lock, a malformed one an error."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    entries: list[LockEntry] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None or runner.FILE_NAME.fullmatch(match["filename"]) is None:
            raise MigrationLockError(
                f"{path.name} line {number} is not `<sha256>  <version>_<name>.sql`: {line!r}",
                f"restore {path.name} from git; never edit it by hand",
            )
        entry = LockEntry(match["filename"], match["sha256"], number)
        if entries and int(entry.version) <= int(entries[-1].version):
            raise MigrationLockError(
                f"{path.name} line {number}: {entry.filename} does not sort after "
                f"{entries[-1].filename}",
                f"restore {path.name} from git; `make lock` only appends",
            )
        entries.append(entry)
    return entries


def compare(files: list[MigrationFile], entries: list[LockEntry]) -> LockReport:
    """Every way the files break the lock, and the files still to be locked, in order."""
    by_name = {f.filename: f for f in files}
    by_version = {f.version: f for f in files}
    locked_names = {e.filename for e in entries}
    problems: list[str] = []
    for entry in entries:
        file = by_name.get(entry.filename)
        if file is None:
            same_version = by_version.get(entry.version)
            if same_version is not None and same_version.filename not in locked_names:
                problems.append(
                    f"locked migration {entry.filename} was renamed to {same_version.filename}; "
                    "a deployed migration keeps its name: restore it"
                )
            else:
                problems.append(
                    f"locked migration {entry.filename} was removed (or renamed); "
                    "restore it: a deployed migration is never removed"
                )
        elif file.sha256 != entry.sha256:
            problems.append(
                f"locked migration {entry.filename} was edited (sha256 {file.sha256[:12]}…, "
                f"locked {entry.sha256[:12]}…); {FIX_EDITED}"
            )
    last = entries[-1] if entries else None
    unlocked: list[MigrationFile] = []
    for file in files:
        if file.filename in locked_names:
            continue
        renamed_from = next((e for e in entries if e.version == file.version), None)
        if renamed_from is not None:
            continue  # reported above as the rename of a locked migration
        if last is not None and int(file.version) < int(last.version):
            problems.append(
                f"new migration {file.filename} sorts before locked migration {last.filename}; "
                "`supabase db push` refuses it on a database that has the later one: give it a "
                "timestamp later than every locked migration"
            )
        else:
            unlocked.append(file)
    return LockReport(problems, unlocked)


def check(project: Project) -> LockReport:
    return compare(runner.discover(project.migrations_dir), read_lock(lock_path(project)))


def verify(project: Project) -> None:
    """Raise, naming every offending file, unless the lock covers the migrations exactly."""
    report = check(project)
    if report.ok:
        return
    lines = list(report.problems)
    lines.extend(f"migration {f.filename} is not in {LOCK_NAME} yet" for f in report.unlocked)
    hint = FIX_EDITED if report.problems else FIX_UNLOCKED
    if report.problems and report.unlocked:
        hint += f"; then {FIX_UNLOCKED}"
    raise MigrationLockError(
        f"{LOCK_NAME} does not match supabase/migrations:\n  " + "\n  ".join(lines), hint
    )


def append(project: Project) -> list[MigrationFile]:
    """Append the unlocked migrations to the lock (creating it); refuse while the lock is broken."""
    path = lock_path(project)
    report = check(project)
    if report.problems:
        raise MigrationLockError(
            f"{LOCK_NAME} does not match supabase/migrations, so nothing was appended:\n  "
            + "\n  ".join(report.problems),
            FIX_EDITED,
        )
    if not report.unlocked and path.exists():
        return []
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    if text and not text.endswith("\n"):
        text += "\n"
    text += "".join(f"{f.sha256}  {f.filename}\n" for f in report.unlocked)
    path.write_text(text, encoding="utf-8")
    return report.unlocked
