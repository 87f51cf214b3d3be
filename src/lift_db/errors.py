"""Errors of the `lift-db` tooling, and how a command reports its progress.

Every error carries the problem and the fix, so the command line can print one clear message
and exit non-zero without a traceback. They form one tree under `LiftDbError`, one branch per
package (the store has its own tree, `lift_db.store.errors`, because it is installed alone):

    LiftDbError
    ├── ConfigError, ProjectFileError, TargetUnreachableError   the project and its target
    ├── ServerError: PortInUseError, BinariesMissingError, AclError        lift_db.local
    ├── MigrationError: MigrationNameError, MigrationFileError, MigrationDriftError,
    │   MigrationTamperError, MigrationTransactionError, MigrationFailedError,
    │   MigrationLockTimeoutError, MigrationLockError                     lift_db.migrate
    ├── ReviewError: SnapshotError, CompatibilityError, DriftError, DiffRefusedError
    │                                                                     lift_db.review
    └── BackupError: ArchiveError, RefusedError, RestoreError             lift_db.backup
"""

from __future__ import annotations

from collections.abc import Callable

# How a command tells its user what it is doing: called with one line at a time.
Report = Callable[[str], None]


class LiftDbError(Exception):
    """A failure the user can act on: `str()` says what went wrong, `hint` how to fix it."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  fix: {self.hint}"
        return self.message


# The project and the database a command acts on.


class ConfigError(LiftDbError):
    """The project layout or `supabase/config.toml` is not usable."""


class ProjectFileError(LiftDbError):
    """A file the project would run is a link, not a regular file, or lies outside the project."""


class TargetUnreachableError(LiftDbError):
    """The database named by `--db-url` / `DATABASE_URL` does not answer."""


# The local stack (lift_db.local).


class ServerError(LiftDbError):
    """The local server could not be started, stopped or reached."""


class PortInUseError(ServerError):
    """Another process listens on the port the local server needs."""


class BinariesMissingError(ServerError):
    """The PostgreSQL binaries or pgTAP are not installed where the stack expects them."""


class AclError(ServerError):
    """A folder's ACL cannot be read, or the grant would give someone else more."""


# The migration runner (lift_db.migrate).


class MigrationError(LiftDbError):
    """A migration file is malformed, was edited after being applied, or failed to apply."""


class MigrationNameError(MigrationError):
    """A file in `supabase/migrations` does not match `<digits>_<name>.sql`."""


class MigrationFileError(MigrationError):
    """A migration file is a link, not a regular file, outside the project, or not UTF-8."""


class MigrationDriftError(MigrationError):
    """Applied history and the files on disk disagree (edited, removed or out-of-order files)."""


class MigrationTamperError(MigrationError):
    """A migration file wrote the runner's history or released the runner's lock."""


class MigrationTransactionError(MigrationError):
    """A migration file ended, committed or replaced the transaction the runner opened for it."""


class MigrationFailedError(MigrationError):
    """A migration raised an error; it was rolled back on its own."""


class MigrationLockTimeoutError(MigrationError):
    """Another session held the runner's advisory lock for longer than the lock timeout."""


class MigrationLockError(MigrationError):
    """The migrations on disk break `supabase/migrations.lock`, or the lock file is unusable."""


# The review tools (lift_db.review).


class ReviewError(LiftDbError):
    """A review tool could not build what it compares, or the change fails its check."""


class SnapshotError(ReviewError):
    """The snapshot could not be built, or the committed one is stale."""


class CompatibilityError(ReviewError):
    """SQL in the project uses what production's PostgreSQL version does not have."""


class DriftError(ReviewError):
    """The live database differs from what its migrations build."""


class DiffRefusedError(ReviewError):
    """The generated migration does not reproduce the target: nothing was written."""

    exit_code = 2


# Backups (lift_db.backup).


class BackupError(LiftDbError):
    """A backup could not be written, or a backup file cannot be read back."""


class ArchiveError(BackupError):
    """A backup file is missing, unreadable, or holds what `lift-db dump` never writes."""


class RefusedError(BackupError):
    """A backup holds SQL that `lift-db dump` never writes; nothing of it ran."""


class RestoreError(BackupError):
    """The target cannot take the backup, or the restore failed (and was rolled back)."""
