"""Map database errors to the store's error hierarchy by SQLSTATE: class first, then exact code.

A SQLSTATE's first two characters are its class (22 data exception, 23 integrity violation, …).
As psycopg.errors does, every class the store can meet has a default error, and a few exact codes
refine it, so a code nobody listed (22012 division by zero, say) still gets its class's error.
"""

from __future__ import annotations

import re
from uuid import UUID

import psycopg

from lift_db.store.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    SchemaMismatchError,
    StatementTimeoutError,
    StoreError,
    StoreUnavailableError,
    VersionConflictError,
)

BY_CLASS: dict[str, type[StoreError]] = {
    "08": StoreUnavailableError,  # connection exception
    "22": InvalidInputError,  # data exception: bad uuid or json, out of range, bad vector
    "23": InvalidInputError,  # integrity: not null, foreign key (unknown user), unique, check
    "40": ConflictError,  # transaction rollback: serialization failure, deadlock
    "42": SchemaMismatchError,  # syntax or access rule: undefined table, function, column
    "53": StoreUnavailableError,  # insufficient resources: too many connections, disk full
    # Over a limit: a value's size or JSON depth (private.column_limits) or a session's number
    # of versions (private.history_limits); PostgREST answers 413.
    "54": PayloadTooLargeError,
    "57": StoreUnavailableError,  # operator intervention: shutdown, crash, not yet accepting
}
BY_CODE: dict[str, type[StoreError]] = {
    "42501": PermissionDeniedError,  # insufficient privilege (RLS, grants, the functions' checks)
    "428C9": InvalidInputError,  # a database-owned (generated) column was written
    "54001": InvalidInputError,  # statement too complex: the input, not a stored limit
    "55P03": StatementTimeoutError,  # lock_timeout
    "57014": StatementTimeoutError,  # statement_timeout, or cancelled
    # Raised by the schema's functions, with PostgREST's HTTP-flavoured custom codes.
    "PT404": NotFoundError,
    "P0002": NotFoundError,  # no_data_found
    "PT409": VersionConflictError,
}
# Worth running the whole transaction again: nothing was written.
RETRYABLE = frozenset({"40001", "40P01"})
_CURRENT = re.compile(r"current_version=(\d+)")
_EXPECTED = re.compile(r"(?:expected version|newer than version) (\d+)")


def error_class(sqlstate: str) -> type[StoreError]:
    """The store error for a SQLSTATE: its exact code's, else its class's, else StoreError."""
    return BY_CODE.get(sqlstate) or BY_CLASS.get(sqlstate[:2]) or StoreError


def map_error(exc: psycopg.Error, session_id: UUID | None = None) -> StoreError:
    """The store error a database error stands for (the driver error stays as __cause__)."""
    state = exc.sqlstate
    if state is None:
        if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            # No SQLSTATE: the connection broke (server restart, network) before an answer.
            return StoreUnavailableError(f"database unavailable: {_first_line(exc)}")
        return StoreError(f"database error: {_first_line(exc)}")
    message = exc.diag.message_primary or _first_line(exc)
    kind = error_class(state)
    if kind is VersionConflictError:
        current = _CURRENT.search(exc.diag.message_detail or "")
        expected = _EXPECTED.search(message)
        return VersionConflictError(
            session_id or UUID(int=0),
            int(expected.group(1)) if expected else -1,
            int(current.group(1)) if current else None,
            message,
        )
    if kind is ConflictError:
        return ConflictError(f"concurrent transactions collided ({state}): {message}")
    if kind is StoreUnavailableError:
        return StoreUnavailableError(f"database unavailable ({state}): {message}")
    if kind is StoreError:
        return StoreError(f"database error {state}: {message}")
    return kind(message)


# The server went away: shut down (57P01 admin, 57P02 crash), starting up (57P03), or the
# connection failed (08…); a driver error without SQLSTATE is a broken socket.
DISCONNECTED = frozenset({"57P01", "57P02", "57P03"})


def is_disconnect(exc: psycopg.Error) -> bool:
    """The connection is gone; nothing the call did is known to have happened or not."""
    state = exc.sqlstate
    if state is None:
        return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
    return state.startswith("08") or state in DISCONNECTED


def is_retryable(exc: psycopg.Error) -> bool:
    return (exc.sqlstate or "") in RETRYABLE


def is_stale_prepared(exc: psycopg.Error) -> bool:
    """A migration changed what a statement this connection had prepared returns (a column's
    type). The statement failed before doing anything and the rollback made psycopg forget the
    connection's prepared statements: the call can simply run again. Known by the server
    function that raises it, so a server speaking another language is recognised too."""
    if exc.sqlstate != "0A000":
        return False
    diag = exc.diag
    return (
        diag.source_function == "RevalidateCachedQuery"
        or diag.message_primary == "cached plan must not change result type"
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
