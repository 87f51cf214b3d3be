"""Errors of the `lift-db` tooling.

Every error carries the problem and the fix, so the command line can print one clear message
and exit non-zero without a traceback.
"""

from __future__ import annotations


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


class ConfigError(LiftDbError):
    """The project layout or `supabase/config.toml` is not usable."""


class ServerError(LiftDbError):
    """The local server could not be started, stopped or reached."""


class PortInUseError(ServerError):
    """Another process listens on the port the local server needs."""


class BinariesMissingError(ServerError):
    """The PostgreSQL binaries or pgTAP are not installed where the stack expects them."""


class TargetUnreachableError(LiftDbError):
    """The database named by `--db-url` / `DATABASE_URL` does not answer."""


class MigrationError(LiftDbError):
    """A migration file is malformed, was edited after being applied, or failed to apply."""


class MigrationNameError(MigrationError):
    """A file in `supabase/migrations` does not match `<digits>_<name>.sql`."""


class MigrationDriftError(MigrationError):
    """Applied history and the files on disk disagree (edited, removed or out-of-order files)."""


class MigrationFailedError(MigrationError):
    """A migration raised an error; it was rolled back on its own."""
