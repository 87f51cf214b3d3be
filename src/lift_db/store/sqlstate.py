"""Map database errors to the store's error hierarchy by SQLSTATE."""

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
    StoreError,
    StoreUnavailableError,
    VersionConflictError,
)

# Raised by the schema's functions, with PostgREST's HTTP-flavoured custom codes.
NOT_FOUND = {"PT404", "P0002"}
VERSION_CONFLICT = "PT409"
# Worth retrying the whole transaction: nothing was written.
RETRYABLE = {"40001", "40P01"}
PERMISSION = {"42501"}
INVALID_INPUT = {
    "22000",  # data exception (pgvector: wrong dimension, NaN or infinite component)
    "22001",  # string too long
    "22003",  # numeric out of range
    "22004",  # null value not allowed
    "22007",  # invalid datetime format
    "22008",  # datetime field overflow
    "22021",  # character not in repertoire (invalid UTF-8)
    "22023",  # invalid parameter value
    "22P02",  # invalid text representation (bad uuid, bad json)
    "22P05",  # untranslatable character (NUL in jsonb text)
    "23502",  # not null violation
    "23503",  # foreign key violation (unknown user or session)
    "23505",  # unique violation (the id already exists)
    "23514",  # check violation (status, prompt bounds, JSON shapes)
    "428C9",  # a database-owned column was written
    "54001",  # statement too complex
}
# Over a limit: a value's size or JSON depth (private.column_limits) or a session's number of
# versions (private.history_limits); PostgREST answers 413.
PAYLOAD_TOO_LARGE = {"54000"}
_CURRENT = re.compile(r"current_version=(\d+)")


def map_error(exc: psycopg.Error, session_id: UUID | None = None) -> StoreError:
    """The store error a database error stands for (the driver error stays as __cause__)."""
    if isinstance(exc, psycopg.OperationalError) and exc.sqlstate is None:
        return StoreUnavailableError(f"database unavailable: {_first_line(exc)}")
    state = exc.sqlstate or ""
    message = exc.diag.message_primary or _first_line(exc)
    if state == VERSION_CONFLICT:
        match = _CURRENT.search(exc.diag.message_detail or "")
        expected = re.search(r"(?:expected version|newer than version) (\d+)", message)
        return VersionConflictError(
            session_id or UUID(int=0),
            int(expected.group(1)) if expected else -1,
            int(match.group(1)) if match else None,
            message,
        )
    if state in NOT_FOUND:
        return NotFoundError(message)
    if state in PERMISSION:
        return PermissionDeniedError(message)
    if state in PAYLOAD_TOO_LARGE:
        return PayloadTooLargeError(message)
    if state in INVALID_INPUT:
        return InvalidInputError(message)
    if state in RETRYABLE:
        return ConflictError(f"concurrent transactions collided ({state}): {message}")
    if state.startswith("08") or state in {"57P01", "57P02", "57P03", "53300"}:
        return StoreUnavailableError(f"database unavailable ({state}): {message}")
    return StoreError(f"database error {state}: {message}")


# The server went away: shut down (57P01 admin, 57P02 crash), starting up (57P03), or the
# connection failed (08…); a driver error without SQLSTATE is a broken socket.
DISCONNECTED = {"57P01", "57P02", "57P03"}


def is_disconnect(exc: psycopg.Error) -> bool:
    """The connection is gone; nothing the statement did is known to have happened."""
    state = exc.sqlstate
    if state is None:
        return isinstance(exc, psycopg.OperationalError)
    return state.startswith("08") or state in DISCONNECTED


def is_retryable(exc: psycopg.Error) -> bool:
    return (exc.sqlstate or "") in RETRYABLE


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
