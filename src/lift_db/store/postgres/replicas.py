"""Reads that may be slightly stale go to read replicas, yet each user reads their own writes.

After a write commits, the store notes where the primary's WAL ended (per acting user: one
user's write never delays another's reads). A later read of that user goes to a replica only
once the replica has replayed that far; it polls for at most `wait` seconds, then reads from
the primary instead. A replica that cannot be reached, or cancels the read (a conflict with
recovery), is skipped for a moment and the read goes to the primary: a replica never makes a
read fail. Positions live in this process: an app with several processes pins a user's reads
to the process that wrote, or passes the position along (`write_position` / `read_after`).

`BaseReadRouter` holds all of that state and every decision; `ReadRouter` (ConnectionPool) and
`AsyncReadRouter` (AsyncConnectionPool) only talk to the replicas, blocking or awaited.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout

from lift_db.store._log import logger as log
from lift_db.store.errors import InvalidInputError
from lift_db.store.postgres import queries as q

T = TypeVar("T")
P = TypeVar("P", ConnectionPool, AsyncConnectionPool)

DEFAULT_WAIT_S = 0.5
POLL_S = 0.005
# After a replica fails, reads skip it this long before trying it again.
DOWN_S = 2.0
# Users whose last write position is remembered; the oldest are forgotten first (a forgotten
# user's next read may then be served by a replica that has not replayed their last write).
MAX_TRACKED_USERS = 100_000
# Noted when a write's position could not be read: no replica ever reaches it.
UNKNOWN_POSITION = 2**64 - 1


def parse_lsn(text: str) -> int:
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def format_lsn(value: int) -> str:
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


class Miss(Exception):
    """No replica could serve the read in time: read from the primary."""


@dataclass
class ReadCounts:
    """What the router did, for logs, tests and the benchmark."""

    replica: int = 0
    primary_lagging: int = 0
    primary_unreachable: int = 0


def pool_options(n: int, max_size: int, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The settings of replica pool `n`: opened empty and never waiting to reconnect, so a
    replica that is down costs a read nothing but the fall back to the primary."""
    return {
        "min_size": 0,
        "max_size": max_size,
        "kwargs": kwargs,
        "open": False,
        "reconnect_timeout": 0,
        "name": f"lift-db-replica-{n}",
    }


class BaseReadRouter(Generic[P]):
    """The replicas' pools, the last write position of every acting user, and the decisions:
    which replica to try next, whether it has replayed enough, when to give up on it."""

    def __init__(self, pools: list[P], *, wait: float) -> None:
        self.wait = wait
        self._pools: list[P] = pools
        # A threading lock, never held across an await: the state is shared by any threads or
        # tasks that use the store.
        self._lock = threading.Lock()
        self._positions: OrderedDict[str, int] = OrderedDict()
        self._down_until = [0.0] * len(pools)
        self._next: int = 0
        self.counts = ReadCounts()

    def note_write(self, who: str, lsn: int) -> None:
        with self._lock:
            if lsn > self._positions.get(who, 0):
                self._positions[who] = lsn
            self._positions.move_to_end(who)
            while len(self._positions) > MAX_TRACKED_USERS:
                self._positions.popitem(last=False)

    def note_read_after(self, who: str, position: str) -> None:
        """A `write_position()` handed over by another process of the app."""
        try:
            self.note_write(who, parse_lsn(position))
        except ValueError:
            raise InvalidInputError(f"not a write position: {position!r}") from None

    def note_written_at(self, who: str, row: tuple[Any, ...] | None) -> None:
        """Record the answer to WAL_INSERT_POSITION, read right after `who`'s commit."""
        if row is not None:
            self.note_write(who, parse_lsn(str(row[0])))

    def note_position_unknown(self, who: str, exc: psycopg.Error) -> None:
        log.warning("write position unknown (%s): reads go to the primary", exc)
        self.note_write(who, UNKNOWN_POSITION)

    def position(self, who: str) -> int | None:
        with self._lock:
            return self._positions.get(who)

    def write_position(self, who: str) -> str | None:
        lsn = self.position(who)
        return None if lsn is None else format_lsn(lsn)

    def _order(self) -> list[int]:
        """The replicas to try, round robin, skipping those marked down."""
        with self._lock:
            start: int = self._next
            self._next = (self._next + 1) % len(self._pools)
            now = time.monotonic()
            return [
                n
                for n in (*range(start, len(self._pools)), *range(start))
                if self._down_until[n] <= now
            ]

    @staticmethod
    def _replayed(row: tuple[Any, ...] | None, needed: int) -> bool:
        """Whether the REPLAYED_POSITION answer `row` lies at or after `needed`."""
        value = row[0] if row else None
        # A server that is no standby has no replay position: nothing proves it has the write.
        return isinstance(value, str) and parse_lsn(value) >= needed

    @staticmethod
    def _left(deadline: float) -> float:
        return max(deadline - time.monotonic(), 0.001)

    def _after_run_failed(self, exc: BaseException) -> None:
        """The read itself failed on the replica: unless the replica failed, it answered (a
        refusal is an answer) and counts as served."""
        if not (isinstance(exc, psycopg.OperationalError) and _replica_failure(exc)):
            self._served()

    def _skip(self, n: int, exc: PoolTimeout | psycopg.OperationalError) -> bool:
        """Mark replica `n` down after `exc` if the replica is at fault; False: the caller's
        error, to raise."""
        if isinstance(exc, psycopg.OperationalError) and not _replica_failure(exc):
            return False
        with self._lock:
            self._down_until[n] = time.monotonic() + DOWN_S
        log.warning("read replica %s skipped: %s", self._pools[n].name, _first_line(exc))
        return True

    def _served(self) -> None:
        with self._lock:
            self.counts.replica += 1

    def _miss(self, who: str, lagging: bool) -> Miss:
        with self._lock:
            if lagging:
                self.counts.primary_lagging += 1
            else:
                self.counts.primary_unreachable += 1
        if lagging:
            log.info("read for %s went to the primary: replicas lag behind its last write", who)
        return Miss()


class ReadRouter(BaseReadRouter[ConnectionPool]):
    """The router on blocking pools."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        wait: float,
        max_size: int,
        kwargs: dict[str, Any],
        configure: Callable[[psycopg.Connection[Any]], None],
    ) -> None:
        super().__init__(
            [
                ConnectionPool(url, configure=configure, **pool_options(n, max_size, kwargs))
                for n, url in enumerate(urls)
            ],
            wait=wait,
        )
        for pool in self._pools:
            pool.open(wait=False)

    def read(self, who: str, run: Callable[[psycopg.Connection[Any]], T]) -> T:
        """`run` on a replica that has replayed `who`'s last write; Miss when none has in time."""
        needed = self.position(who)
        deadline = time.monotonic() + self.wait
        lagging = False
        for n in self._order():
            try:
                with self._pools[n].connection(timeout=self._left(deadline)) as conn:
                    if not self._caught_up(conn, needed, deadline):
                        lagging = True
                        continue
                    try:
                        result = run(conn)
                    except BaseException as exc:
                        self._after_run_failed(exc)
                        raise
                    self._served()
                    return result
            except (PoolTimeout, psycopg.OperationalError) as exc:
                if not self._skip(n, exc):
                    raise
        raise self._miss(who, lagging)

    def _caught_up(
        self, conn: psycopg.Connection[Any], needed: int | None, deadline: float
    ) -> bool:
        while needed is not None and not self._replayed(
            conn.execute(q.REPLAYED_POSITION).fetchone(), needed
        ):
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL_S)
        return True

    def close(self) -> None:
        for pool in self._pools:
            pool.close()


class AsyncReadRouter(BaseReadRouter[AsyncConnectionPool]):
    """The router on async pools: `await open()` inside the loop that reads."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        wait: float,
        max_size: int,
        kwargs: dict[str, Any],
        configure: Callable[[psycopg.AsyncConnection[Any]], Awaitable[None]],
    ) -> None:
        super().__init__(
            [
                AsyncConnectionPool(url, configure=configure, **pool_options(n, max_size, kwargs))
                for n, url in enumerate(urls)
            ],
            wait=wait,
        )

    async def open(self) -> None:
        for pool in self._pools:
            await pool.open(wait=False)

    async def read(
        self, who: str, run: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]
    ) -> T:
        """`run` on a replica that has replayed `who`'s last write; Miss when none has in time."""
        needed = self.position(who)
        deadline = time.monotonic() + self.wait
        lagging = False
        for n in self._order():
            try:
                async with self._pools[n].connection(timeout=self._left(deadline)) as conn:
                    if not await self._caught_up(conn, needed, deadline):
                        lagging = True
                        continue
                    try:
                        result = await run(conn)
                    except BaseException as exc:
                        self._after_run_failed(exc)
                        raise
                    self._served()
                    return result
            except (PoolTimeout, psycopg.OperationalError) as exc:
                if not self._skip(n, exc):
                    raise
        raise self._miss(who, lagging)

    async def _caught_up(
        self, conn: psycopg.AsyncConnection[Any], needed: int | None, deadline: float
    ) -> bool:
        while needed is not None and not self._replayed(
            await (await conn.execute(q.REPLAYED_POSITION)).fetchone(), needed
        ):
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(POLL_S)
        return True

    async def close(self) -> None:
        for pool in self._pools:
            await pool.close()


def _replica_failure(exc: psycopg.Error) -> bool:
    """The replica is gone or cancelled the read for its own reasons (not the caller's fault)."""
    state = exc.sqlstate or ""
    # 40001 on a standby: a conflict with recovery cancelled the read.
    return (
        exc.sqlstate is None
        or state.startswith("08")
        or state in {"57P01", "57P02", "57P03", "40001"}
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
