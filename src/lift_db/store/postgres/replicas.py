"""Reads that may be slightly stale go to read replicas, yet each user reads their own writes.

After a write commits, the store notes where the primary's WAL ended (per acting user: one
user's write never delays another's reads). A later read of that user goes to a replica only
once the replica has replayed that far; it polls for at most `wait` seconds, then reads from
the primary instead. A replica that cannot be reached, or cancels the read (a conflict with
recovery), is skipped for a moment and the read goes to the primary: a replica never makes a
read fail. Positions live in this process: an app with several processes pins a user's reads
to the process that wrote, or passes the position along (`write_position` / `read_after`).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from lift_db.store._log import logger as log
from lift_db.store.postgres import queries as q

T = TypeVar("T")

DEFAULT_WAIT_S = 0.5
POLL_S = 0.005
# After a replica fails, reads skip it this long before trying it again.
DOWN_S = 2.0
# Users whose last write position is remembered; the oldest are forgotten first (a forgotten
# user's next read may then be served by a replica that has not replayed their last write).
MAX_TRACKED_USERS = 100_000


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


class ReadRouter:
    """Pools of the read replicas, and the last write position of every acting user."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        wait: float,
        max_size: int,
        kwargs: dict[str, Any],
        configure: Callable[[psycopg.Connection[Any]], None],
    ) -> None:
        self.wait = wait
        self._pools = [
            ConnectionPool(
                url,
                min_size=0,
                max_size=max_size,
                kwargs=kwargs,
                configure=configure,
                open=False,
                reconnect_timeout=0,
                name=f"lift-db-replica-{n}",
            )
            for n, url in enumerate(urls)
        ]
        for pool in self._pools:
            pool.open(wait=False)
        self._lock = threading.Lock()
        self._positions: OrderedDict[str, int] = OrderedDict()
        self._down_until = [0.0] * len(self._pools)
        self._next = 0
        self.counts = ReadCounts()

    def note_write(self, who: str, lsn: int) -> None:
        with self._lock:
            if lsn > self._positions.get(who, 0):
                self._positions[who] = lsn
            self._positions.move_to_end(who)
            while len(self._positions) > MAX_TRACKED_USERS:
                self._positions.popitem(last=False)

    def position(self, who: str) -> int | None:
        with self._lock:
            return self._positions.get(who)

    def _order(self) -> list[int]:
        with self._lock:
            start = self._next
            self._next = (self._next + 1) % len(self._pools)
            now = time.monotonic()
            return [
                n
                for n in (*range(start, len(self._pools)), *range(start))
                if self._down_until[n] <= now
            ]

    def read(self, who: str, run: Callable[[psycopg.Connection[Any]], T]) -> T:
        """`run` on a replica that has replayed `who`'s last write; Miss when none has in time."""
        needed = self.position(who)
        deadline = time.monotonic() + self.wait
        lagging = False
        for n in self._order():
            pool = self._pools[n]
            try:
                with pool.connection(timeout=max(deadline - time.monotonic(), 0.001)) as conn:
                    while not _replayed(conn, needed):
                        if time.monotonic() >= deadline:
                            lagging = True
                            break
                        time.sleep(POLL_S)
                    else:
                        try:
                            result = run(conn)
                        except psycopg.OperationalError as exc:
                            if _replica_failure(exc):
                                raise
                            self._served()
                            raise
                        except BaseException:
                            self._served()  # the replica answered: a refusal is an answer
                            raise
                        self._served()
                        return result
            except (PoolTimeout, psycopg.OperationalError) as exc:
                if isinstance(exc, psycopg.OperationalError) and not _replica_failure(exc):
                    raise
                with self._lock:
                    self._down_until[n] = time.monotonic() + DOWN_S
                log.warning("read replica %s skipped: %s", pool.name, _first_line(exc))
        with self._lock:
            if lagging:
                self.counts.primary_lagging += 1
            else:
                self.counts.primary_unreachable += 1
        if lagging:
            log.info("read for %s went to the primary: replicas lag behind its last write", who)
        raise Miss

    def _served(self) -> None:
        with self._lock:
            self.counts.replica += 1

    def close(self) -> None:
        for pool in self._pools:
            pool.close()


def _replayed(conn: psycopg.Connection[Any], needed: int | None) -> bool:
    if needed is None:
        return True
    row = conn.execute(q.REPLAYED_POSITION).fetchone()
    value = row[0] if row else None
    # A server that is no standby has no replay position: nothing proves it has the write.
    return isinstance(value, str) and parse_lsn(value) >= needed


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
