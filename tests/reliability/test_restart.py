"""The store keeps serving while the server restarts: a clean stop, then SIGKILL, in turns.

A throwaway cluster (own data directory and port) runs the migrations. Eight threads, each a
user of one PostgresSessionStore, and one task on an event loop, a user of an
AsyncPostgresSessionStore, create sessions (with idempotency keys), write IR versions,
record events, list and read, without pause. Mid-burst the server is stopped (`lift-db stop`:
PostgreSQL's fast shutdown ends every connection) or killed (SIGKILL to every server process),
and started again with `lift-db start`.

What must hold, checked against the database at the end:
- every call that started after the server was back succeeded (the pool drops dead
  connections; a stale one never reaches a caller);
- reads in flight were retried once, transparently (no read ever raised);
- writes in flight either committed exactly once or raised StoreUnavailableError with
  `may_have_committed` (retryable); a create with a key never raised at all (the store repeats
  it, and the key makes it once), and a create repeated by the caller found its first session;
- no acknowledged write is lost, and no write applied twice (no duplicate session per key, no
  IR marker twice in a history, no event twice).
"""

from __future__ import annotations

import random
import signal
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import psycopg
import pytest

from lift_db.store import (
    AsyncPostgresSessionStore,
    NewSession,
    PostgresSessionStore,
    SessionStoreFactory,
    StoreUnavailableError,
)
from tests.conftest import free_port, run_lift_db
from tests.reliability import figures
from tests.reliability.support import create_auth_user, env_int
from tests.store.conftest import Blocking, EventLoopThread

THREADS = 8
RESTARTS = env_int("LIFT_RESTART_ROUNDS", 4)
# Acknowledged calls before each restart, and after the server is back before the next one.
CALLS_BETWEEN = 120
JOIN_TIMEOUT_S = 180


@dataclass(frozen=True)
class Cluster:
    state: Path
    port: int

    @property
    def env(self) -> dict[str, str]:
        return {"LIFT_DB_STATE_DIR": str(self.state), "LIFT_DB_PORT": str(self.port)}

    def url(self, user: str = "postgres") -> str:
        return f"postgresql://{user}:postgres@127.0.0.1:{self.port}/postgres"

    def server_processes(self) -> list[int]:
        data = (self.state / "data").resolve()
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if Path(f"/proc/{entry.name}/cwd").readlink() == data:
                        found.append(int(entry.name))
                except OSError:
                    continue
        return found


@pytest.fixture
def cluster(scratch_state: Path) -> Cluster:
    made = Cluster(scratch_state, free_port())
    for command in ("start", "migrate"):
        result = run_lift_db(command, env=made.env)
        assert result.returncode == 0, result.stderr
    return made


@dataclass
class Timeline:
    """When the server went down and came back, and how many calls were acknowledged."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    acks: int = 0
    down: list[float] = field(default_factory=list)
    back: list[float] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def ack(self) -> None:
        with self.lock:
            self.acks += 1

    def wait_acks(self, count: int) -> None:
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        with self.lock:
            target = self.acks + count
        while time.monotonic() < deadline:
            with self.lock:
                if self.acks >= target:
                    return
            time.sleep(0.01)
        raise AssertionError("the clients stopped making progress")

    def after_restart(self, start: float, end: float) -> bool:
        """Whether a call ran wholly while the server was up after a restart."""
        with self.lock:
            for n, back in enumerate(self.back):
                next_down = self.down[n + 1] if n + 1 < len(self.down) else float("inf")
                if back <= start and end < next_down:
                    return True
        return False


@dataclass
class Client:
    """One user's calls and what it saw: acknowledged, failed (by type), unknown outcomes."""

    store: SessionStoreFactory
    user: uuid.UUID
    seed: int
    timeline: Timeline
    calls: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    errors_after_restart: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    created: dict[str, uuid.UUID] = field(default_factory=dict)  # key -> session id (acked)
    unsure_creates: list[str] = field(default_factory=list)
    acked_irs: dict[str, uuid.UUID] = field(default_factory=dict)  # marker -> session
    unsure_irs: dict[str, uuid.UUID] = field(default_factory=dict)
    acked_events: set[str] = field(default_factory=set)
    unsure_events: set[str] = field(default_factory=set)

    def run(self) -> None:
        rng = random.Random(self.seed)  # noqa: S311 - seeded for reproducible runs
        me = self.store.for_user(self.user)
        n = 0
        while not self.timeline.stop.is_set():
            n += 1
            marker = f"{self.seed}.{n}"
            op = rng.choice(("create", "create", "update", "update", "event", "list", "get"))
            if op in ("update", "get") and not self.created:
                op = "create"
            sid = rng.choice(list(self.created.values())) if self.created else None
            start = time.monotonic()
            self.calls += 1
            try:
                if op == "create":
                    made = me.create(NewSession(prompt=marker, idempotency_key=marker))
                    self.created[marker] = made.id
                elif op == "update" and sid is not None:
                    current = me.get(sid)
                    assert current is not None
                    try:
                        me.update(current.with_ir({"marker": marker}))
                    except StoreUnavailableError as exc:
                        if exc.may_have_committed:
                            self.unsure_irs[marker] = sid
                        raise
                    self.acked_irs[marker] = sid
                elif op == "event":
                    try:
                        me.record_event("restart.probe", event_data={"marker": marker})
                    except StoreUnavailableError as exc:
                        if exc.may_have_committed:
                            self.unsure_events.add(marker)
                        raise
                    self.acked_events.add(marker)
                elif op == "list":
                    listed = me.list_all(limit=5)
                    if any(s.user_id != self.user for s in listed):
                        self.unexpected.append("listed another user's session")
                elif sid is not None:
                    me.get(sid)
                self.timeline.ack()
            except Exception as exc:
                end = time.monotonic()
                unsure = isinstance(exc, StoreUnavailableError) and exc.may_have_committed
                name = f"{type(exc).__name__}{' (may have committed)' if unsure else ''}"
                self.errors[f"{op}: {name}"] += 1
                if self.timeline.after_restart(start, end):
                    self.errors_after_restart.append(f"{op}: {name}: {exc}")
                if not isinstance(exc, StoreUnavailableError) or op in ("list", "get"):
                    self.unexpected.append(f"{op}: {name}: {exc}")
                if op == "create":
                    self.unexpected.append(f"a keyed create raised {name}: {exc}")
                    self.unsure_creates.append(marker)
                if op == "update" and not unsure and isinstance(exc, StoreUnavailableError):
                    self.unexpected.append(f"an update failed before it was sent: {exc}")


def test_the_store_survives_restarts_and_kills_with_no_error_after_and_no_duplicate(
    cluster: Cluster,
) -> None:
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        users = [create_auth_user(conn, f"restart{n}") for n in range(THREADS + 1)]
    store = PostgresSessionStore(cluster.url(), min_size=THREADS, max_size=THREADS, timeout=90)
    # The async store's calls run as a task on an event loop of their own; the last client
    # waits for each one, as an async request handler awaits it.
    loop = EventLoopThread()
    async_store = loop.run(AsyncPostgresSessionStore.connect(cluster.url(), max_size=2, timeout=90))
    factories: list[SessionStoreFactory] = [store] * THREADS
    factories.append(cast(SessionStoreFactory, Blocking(async_store, loop)))
    timeline = Timeline()
    clients = [
        Client(factory, user, 7000 + n, timeline)
        for n, (factory, user) in enumerate(zip(factories, users, strict=True))
    ]
    threads = [threading.Thread(target=c.run, name=f"client{n}") for n, c in enumerate(clients)]
    try:
        for t in threads:
            t.start()
        for round_ in range(RESTARTS):
            timeline.wait_acks(CALLS_BETWEEN)
            with timeline.lock:
                timeline.down.append(time.monotonic())
            if round_ % 2 == 0:
                result = run_lift_db("stop", env=cluster.env)
                assert result.returncode == 0, result.stderr
            else:
                for pid in cluster.server_processes():
                    with __import__("contextlib").suppress(ProcessLookupError):
                        __import__("os").kill(pid, signal.SIGKILL)
            result = run_lift_db("start", env=cluster.env)
            assert result.returncode == 0, result.stderr
            with timeline.lock:
                timeline.back.append(time.monotonic())
            figures.add("restart: server restarts survived (clean stop)" if round_ % 2 == 0
                        else "restart: server restarts survived (SIGKILL)")  # fmt: skip
        timeline.wait_acks(CALLS_BETWEEN)
    finally:
        timeline.stop.set()
        for t in threads:
            t.join(JOIN_TIMEOUT_S)
    assert not any(t.is_alive() for t in threads)

    # A caller that got no answer for a keyed create sends it again: it finds the first.
    me = {c.user: store.for_user(c.user) for c in clients}
    for c in clients:
        for key in c.unsure_creates:
            c.created[key] = me[c.user].create(NewSession(prompt=key, idempotency_key=key)).id
    store.close()
    loop.run(async_store.close())
    loop.stop()

    lost: list[str] = []
    duplicates: list[str] = []
    unsure_committed = unsure_absent = 0
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        for c in clients:
            rows = conn.execute(
                "select idempotency_key, prompt, count(*) over (partition by prompt), id"
                " from public.sessions where user_id = %s",
                (c.user,),
            ).fetchall()
            by_key = {r[0]: r[3] for r in rows}
            duplicates += [f"{r[1]} x{r[2]}" for r in rows if r[2] > 1]
            lost += [f"session {k}" for k, sid in c.created.items() if by_key.get(k) != sid]
            history = Counter(
                r[0]
                for r in conn.execute(
                    "select h.ir_snapshot ->> 'marker' from public.session_history as h"
                    " join public.sessions as s on s.id = h.session_id where s.user_id = %s",
                    (c.user,),
                )
            )
            duplicates += [f"IR {m} x{k}" for m, k in history.items() if k > 1]
            lost += [f"IR {m}" for m in c.acked_irs if history[m] != 1]
            for m in c.unsure_irs:
                unsure_committed += history[m] == 1
                unsure_absent += history[m] == 0
            events = Counter(
                r[0]
                for r in conn.execute(
                    "select event_data ->> 'marker' from public.analytics_events"
                    " where user_id = %s",
                    (c.user,),
                )
            )
            duplicates += [f"event {m} x{k}" for m, k in events.items() if k > 1]
            lost += [f"event {m}" for m in c.acked_events if events[m] != 1]
            for m in c.unsure_events:
                unsure_committed += events[m] == 1
                unsure_absent += events[m] == 0

    errors: Counter[str] = Counter()
    for c in clients:
        errors.update(c.errors)
    calls = sum(c.calls for c in clients)
    figures.add("restart: store calls made", calls)
    for name, count in errors.items():
        figures.add(f"restart: errors seen by callers: {name}", count)
    figures.add("restart: errors seen by calls started after the server was back",
                sum(len(c.errors_after_restart) for c in clients))  # fmt: skip
    figures.add("restart: writes of unknown outcome found committed once", unsure_committed)
    figures.add("restart: writes of unknown outcome found absent", unsure_absent)
    figures.add("restart: duplicates", len(duplicates))
    figures.add("restart: acknowledged writes lost", len(lost))
    assert [e for c in clients for e in c.errors_after_restart] == []
    assert [u for c in clients for u in c.unexpected] == []
    assert duplicates == []
    assert lost == []
    assert calls > CALLS_BETWEEN * (RESTARTS + 1)
    assert clients[-1].created, "the async client made no call that succeeded"
