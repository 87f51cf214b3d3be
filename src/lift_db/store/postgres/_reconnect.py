"""What the sync and async stores do when a call fails: run it again, or raise what error.

Collisions (serialization failure, deadlock: nothing was written) run again, up to
MAX_ATTEMPTS. A connection that died idle in the pool (the server restarted since) fails before
the server answered anything: the caller has the pool drop it with every other dead one, and the
call goes on on a fresh connection, callers never see it. A connection that broke during the
call (restart, failover, the pooler lost it) is tried once more for a read and for a repeatable
write (a create with an idempotency key); any other write then raises StoreUnavailableError with
`may_have_committed`: it committed exactly once or not at all. A statement prepared before a
migration changed what it returns fails before doing anything: the call runs again, once per
connection that may still hold one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from lift_db.store._log import logger
from lift_db.store.errors import StoreError, StoreUnavailableError
from lift_db.store.postgres._base import MAX_ATTEMPTS, Operation, collided
from lift_db.store.postgres.sqlstate import (
    is_disconnect,
    is_retryable,
    is_stale_prepared,
    map_error,
)

# A read, or a repeatable write, whose connection broke during the call is sent again this often.
MAX_RECONNECTS = 1


@dataclass
class Tries:
    """One call's tries so far."""

    attempt: int = 0
    reconnects: int = 0
    stale: int = 0
    replanned: int = 0


def after_failure(
    op: Operation[Any], exc: psycopg.Error, tries: Tries, answered: bool, pool_size: int
) -> StoreError | None:
    """None: run `op` again (the caller has had the pool check its connections if the
    connection broke); else the error to raise. `answered`: the server answered the call's first
    statement on this connection."""
    if is_retryable(exc) and tries.attempt < MAX_ATTEMPTS:
        return collided(op, exc, tries.attempt)
    # After a migration every idle connection may hold the stale statement: each one found is
    # one fewer (its rollback cleared it), so this ends.
    if is_stale_prepared(exc) and tries.replanned <= pool_size:
        tries.replanned += 1
        logger.info("%s: a prepared statement predates a schema change; sent again", op.name)
        return None
    if not is_disconnect(exc):
        return map_error(exc, op.session_id)
    if not answered and tries.stale <= pool_size:
        tries.stale += 1  # each dead connection found is one fewer, so this ends
        return None
    if (not op.writes or op.repeatable) and tries.reconnects < MAX_RECONNECTS:
        tries.reconnects += 1
        logger.warning("%s: connection lost (%s); sent again", op.name, _first_line(exc))
        return None
    if op.writes:
        logger.warning("%s: connection lost mid-write (%s)", op.name, _first_line(exc))
        return StoreUnavailableError(
            f"the connection broke during {op.name} ({type(exc).__name__}): it may or may not "
            "have committed; retry it (a create with an idempotency key is safe to retry)",
            may_have_committed=True,
        )
    return map_error(exc, op.session_id)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
