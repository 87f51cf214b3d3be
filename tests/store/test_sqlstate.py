"""Database errors map to the store's hierarchy by SQLSTATE class first, then by exact code."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import errors as pg

from lift_db.local.target import connect
from lift_db.store import (
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
from lift_db.store.postgres.sqlstate import error_class, map_error
from tests.store.conftest import database_url


def raised(sqlstate: str, message: str) -> psycopg.Error:
    """The driver's error for a SQLSTATE; the schema's own codes (PT404, …) get a class here."""
    try:
        kind = pg.lookup(sqlstate)
    except KeyError:
        kind = type(f"Raised{sqlstate}", (pg.RaiseException,), {"sqlstate": sqlstate})
    return kind(message)


@pytest.mark.parametrize(
    ("sqlstate", "expected"),
    [
        # Codes nobody listed get their class's error.
        ("22012", InvalidInputError),  # division by zero
        ("2200B", InvalidInputError),  # escape character conflict
        ("23P01", InvalidInputError),  # exclusion violation
        ("40003", ConflictError),  # statement completion unknown
        ("42P01", SchemaMismatchError),  # undefined table
        ("42883", SchemaMismatchError),  # undefined function
        ("53100", StoreUnavailableError),  # disk full
        ("54011", PayloadTooLargeError),  # too many columns
        ("57P01", StoreUnavailableError),  # admin shutdown
        ("08006", StoreUnavailableError),  # connection failure
        # Exact codes refine their class.
        ("42501", PermissionDeniedError),
        ("428C9", InvalidInputError),
        ("54000", PayloadTooLargeError),
        ("54001", InvalidInputError),
        ("57014", StatementTimeoutError),
        ("55P03", StatementTimeoutError),
        ("PT404", NotFoundError),
        ("P0002", NotFoundError),
        ("PT409", VersionConflictError),
        # A class the store has no meaning for stays the base error.
        ("XX000", StoreError),
        ("P0001", StoreError),
    ],
)
def test_a_sqlstate_maps_by_exact_code_then_by_class(
    sqlstate: str, expected: type[StoreError]
) -> None:
    assert error_class(sqlstate) is expected
    mapped = map_error(raised(sqlstate, "the database's message"))
    assert type(mapped) is expected
    assert "the database's message" in str(mapped)


def test_an_unlisted_data_error_from_the_database_is_invalid_input() -> None:
    with connect(database_url()) as conn, pytest.raises(psycopg.Error) as division:
        conn.execute("select 1 / 0")
    assert division.value.sqlstate == "22012"
    mapped = map_error(division.value)
    assert isinstance(mapped, InvalidInputError)
    assert str(mapped) == "division by zero"


def test_a_broken_connection_is_unavailable_and_retryable() -> None:
    mapped = map_error(psycopg.OperationalError("server closed the connection unexpectedly"))
    assert isinstance(mapped, StoreUnavailableError)
    assert mapped.retryable


def test_only_transient_errors_say_they_may_be_retried() -> None:
    assert map_error(raised("40001", "could not serialize")).retryable
    assert not map_error(raised("22P02", "bad uuid")).retryable
    conflict = map_error(raised("PT409", "expected version 3"), uuid.uuid4())
    assert isinstance(conflict, VersionConflictError)
    assert conflict.expected == 3
    assert not conflict.retryable
