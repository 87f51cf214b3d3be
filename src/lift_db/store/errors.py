"""Every error the session store raises, whichever implementation: one hierarchy.

Database errors are mapped by SQLSTATE, by class first and then by exact code
(lift_db.store.postgres.sqlstate): callers never catch a driver exception. `retryable` says
whether the same call may simply be made again (nothing was written, or the database was away).

    StoreError
    ├── InvalidInputError            class 22 (data), 23 (integrity), 428C9
    │   └── PayloadTooLargeError     class 54 (over a limit)
    ├── NotFoundError                PT404, P0002
    ├── PermissionDeniedError        42501
    ├── AuthenticationError          a refused access token (no query ran)
    ├── ConflictError                class 40 (serialization failure, deadlock)  retryable
    │   └── VersionConflictError     PT409 (re-read, then decide)
    ├── StatementTimeoutError        57014, 55P03 (statement or lock timeout)
    ├── StoreUnavailableError        class 08, 53, 57; connection lost          retryable
    ├── SchemaMismatchError          class 42 (undefined table, function, …)
    └── UndecodableValueError        a stored value the store cannot decode
"""

from __future__ import annotations

from uuid import UUID


class StoreError(Exception):
    """Base of every error the session store raises on purpose."""

    retryable: bool = False


class InvalidInputError(StoreError, ValueError):
    """The request is malformed: bad id, unknown status, empty prompt, non-object IR, …"""


class PayloadTooLargeError(InvalidInputError):
    """A write is over one of the database's limits (SQLSTATE 54000): a value over its size or
    depth cap (private.column_limits; the message names the column, its size and the cap), or an
    IR version past the session's limit (private.history_limits). Nothing was written."""


class UndecodableValueError(StoreError):
    """The database returned a value the store cannot decode (JSON nested beyond what Python's
    decoder can follow, written before the caps existed or around them). Nothing was changed;
    the row needs repair by an operator."""


class NotFoundError(StoreError, LookupError):
    """The session (or version) does not exist for this user: missing, or someone else's."""


class PermissionDeniedError(StoreError, PermissionError):
    """The user may see the object but not do this to it."""


class ConflictError(StoreError):
    """A concurrent writer got in the way; nothing was written and the call may be retried."""

    retryable = True


class VersionConflictError(ConflictError):
    """Another writer changed the IR after the caller read it; nothing was written. Retrying the
    same call fails the same way: the caller re-reads and decides."""

    retryable = False

    def __init__(
        self, session_id: UUID, expected: int, current: int | None, message: str | None = None
    ) -> None:
        super().__init__(
            message
            or f"ir version conflict on session {session_id}: expected version {expected}, "
            f"current version is {current}"
        )
        self.session_id = session_id
        self.expected = expected
        self.current = current


class StoreUnavailableError(StoreError):
    """The database cannot be reached, refused the connection, or went away mid-call."""

    retryable = True


class StatementTimeoutError(StoreError):
    """A statement ran past its role's statement_timeout or lock_timeout, or was cancelled; its
    transaction was rolled back."""


class SchemaMismatchError(StoreError):
    """The database lacks what the store expects (a table, column or function): the migrations
    the store was written against are not applied."""


class AuthenticationError(StoreError, PermissionError):
    """An access token was refused (forged, expired, wrongly signed, a role the API does not
    serve); no query ran. `reason` names the check that failed, e.g. `expired`."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason
