"""Sessions survive a server killed with SIGKILL in the middle of a burst of writes.

A throwaway cluster (its own data directory and port) runs the migrations. Writer threads, some
speaking SQL as the API roles the way PostgREST does, some through the session store, create
sessions, write IR versions (function and plain UPDATE), roll back, change status, delete, and
write several versions in one transaction. Each writer owns its sessions, so it knows exactly
what the database must hold after every write it saw acknowledged. Mid-burst the server is
killed (the postmaster alone, or every server process at once) and started again with
`lift-db start`, which recovers from the stale pid file.

After each restart: every acknowledged write is there; every write whose outcome the client
never learned (in flight at the kill) is there whole or not at all; every session's history is
contiguous and matches its current IR; no history row lost its session; every btree index agrees
with its table (amcheck). The figures of each run are reported at the end of the test session.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb

from lift_db.store import (
    NewSession,
    PostgresSessionStore,
    PromptSession,
    SessionStatus,
    StoreUnavailableError,
)
from tests.conftest import free_port, run_lift_db
from tests.reliability import figures
from tests.reliability.support import (
    CRASH_ROUNDS,
    Conn,
    act_as,
    create_auth_user,
    history_violations,
)

SQL_WRITERS = 4
STORE_WRITERS = 2
USERS = 3
# Kill once this many writes (give or take) were acknowledged in the round: enough that every
# writer is busy, varied so that the kill lands at different points of the writers' loops.
KILL_AFTER_ACKS = (150, 400)
# Only so that a writer that hangs cannot hang the suite; never reached when all is well.
JOIN_TIMEOUT_S = 120
# The database assigns session ids, so a write whose answer was lost leaves no id to look for.
# The ledger names each session by its creating marker instead (unique across rounds; the
# session's prompt carries it), and each writer remembers the id the database gave.
SESSION_KEYS = uuid.UUID("5e55c0de-0000-4000-8000-000000000000")


def key_of(marker: str) -> uuid.UUID:
    return uuid.uuid5(SESSION_KEYS, marker)


def prompt_of(marker: str) -> str:
    return f"prompt of {marker}"


STATUSES: tuple[SessionStatus, ...] = ("active", "finalized", "abandoned")


@dataclass(frozen=True)
class Version:
    description: str
    ir_marker: str


@dataclass(frozen=True)
class SessionState:
    """What one session must look like: absent, or its status and every IR version."""

    exists: bool
    status: str = "active"
    versions: tuple[Version, ...] = ()


ABSENT = SessionState(exists=False)


@dataclass
class Ledger:
    """One writer's sessions as acknowledged, and the write it was in the middle of."""

    states: dict[uuid.UUID, SessionState] = field(default_factory=dict)
    store_rows: dict[uuid.UUID, PromptSession] = field(default_factory=dict)
    markers: dict[uuid.UUID, str] = field(default_factory=dict)  # session key -> its marker
    ids: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)  # session key -> database id
    in_flight: dict[uuid.UUID, SessionState] | None = None  # the states if it committed
    in_flight_kind: str | None = None
    in_flight_since: float = 0.0
    acked: int = 0
    unexpected: list[str] = field(default_factory=list)

    def live(self) -> list[uuid.UUID]:
        return sorted(sid for sid, s in self.states.items() if s.exists)


@dataclass
class Burst:
    threshold: int
    acked: int = 0
    acked_after_kill: int = 0
    killed_at: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    enough: threading.Event = field(default_factory=threading.Event)

    def ack(self) -> None:
        with self.lock:
            self.acked += 1
            if self.killed_at is not None:
                # A backend the dead postmaster left behind may finish a request or two.
                self.acked_after_kill += 1
            if self.acked >= self.threshold:
                self.enough.set()

    def kill(self, pids: list[int]) -> None:
        with self.lock:
            self.killed_at = time.monotonic()
            for pid in pids:
                os.kill(pid, signal.SIGKILL)


@dataclass(frozen=True)
class Cluster:
    state: Path
    port: int

    @property
    def env(self) -> dict[str, str]:
        return {"LIFT_DB_STATE_DIR": str(self.state), "LIFT_DB_PORT": str(self.port)}

    def url(self, user: str = "postgres") -> str:
        return f"postgresql://{user}:postgres@127.0.0.1:{self.port}/postgres"

    def postmaster(self) -> int:
        return int((self.state / "data" / "postmaster.pid").read_text().splitlines()[0])

    def server_processes(self) -> list[int]:
        data = (self.state / "data").resolve()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if Path(os.readlink(entry / "cwd")) == data:
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


# -- the writes ----------------------------------------------------------------------------------


class Writer(ABC):
    """One client: picks writes at random (seeded), records each one it sees acknowledged."""

    multi_supported = False

    def __init__(
        self, url: str, name: str, user: uuid.UUID, ledger: Ledger, burst: Burst, seed: int
    ) -> None:
        self.url = url
        self.name = name
        self.user = user
        self.ledger = ledger
        self.burst = burst
        self.rng = random.Random(seed)  # noqa: S311 - seeded for reproducible runs
        self.counter = 0

    def marker(self) -> str:
        self.counter += 1
        return f"{self.name}#{self.counter}"

    def run(self) -> None:
        try:
            self.connect()
            for _ in range(100_000):
                if not self.step():
                    return
        finally:
            self.close()

    def step(self) -> bool:
        """One write; False once the server is gone (or the write failed otherwise)."""
        live = self.ledger.live()
        roll = self.rng.random()
        if not live or roll < 0.15:
            m = self.marker()
            sid = key_of(m)
            self.ledger.markers[sid] = m
            after = {sid: SessionState(True, "active", (Version(m, m),))}
            return self.attempt("create", after, lambda: self.create(sid, m))
        sid = self.rng.choice(live)
        before = self.ledger.states[sid]
        if roll < 0.25 and self.multi_supported:
            ms = [self.marker() for _ in range(3)]
            new = key_of(ms[0])
            self.ledger.markers[new] = ms[0]
            after = {new: SessionState(True, "active", tuple(Version(m, m) for m in ms))}
            return self.attempt(
                "three versions in one transaction", after, lambda: self.multi(new, ms)
            )
        if roll < 0.70:
            m = self.marker()
            after = {sid: replace(before, versions=(*before.versions, Version(m, m)))}
            return self.attempt("IR update", after, lambda: self.write_ir(sid, before, m))
        if roll < 0.82:
            status = self.rng.choice(STATUSES)
            after = {sid: replace(before, status=status)}
            return self.attempt("status change", after, lambda: self.set_status(sid, status))
        if roll < 0.93:
            m = self.marker()
            first = before.versions[0].ir_marker
            after = {sid: replace(before, versions=(*before.versions, Version(m, first)))}
            return self.attempt("rollback", after, lambda: self.rollback(sid, before, m))
        return self.attempt("delete", {sid: ABSENT}, lambda: self.delete(sid))

    def attempt(
        self, kind: str, after: dict[uuid.UUID, SessionState], write: Callable[[], None]
    ) -> bool:
        ledger = self.ledger
        ledger.in_flight, ledger.in_flight_kind = after, kind
        ledger.in_flight_since = time.monotonic()
        try:
            write()
        except Exception as exc:  # sorted here: the crash, or a defect
            if self.is_crash(exc):
                return False  # in flight: recovery tells whether it committed
            ledger.in_flight = None
            ledger.unexpected.append(f"{self.name} {kind}: {type(exc).__name__}: {exc}")
            return False
        ledger.in_flight = None
        ledger.states.update(after)
        ledger.acked += 1
        self.burst.ack()
        return True

    @abstractmethod
    def connect(self) -> None: ...
    @abstractmethod
    def close(self) -> None: ...
    @abstractmethod
    def is_crash(self, exc: Exception) -> bool: ...
    @abstractmethod
    def create(self, sid: uuid.UUID, marker: str) -> None: ...
    @abstractmethod
    def write_ir(self, sid: uuid.UUID, before: SessionState, marker: str) -> None: ...
    @abstractmethod
    def set_status(self, sid: uuid.UUID, status: SessionStatus) -> None: ...
    @abstractmethod
    def rollback(self, sid: uuid.UUID, before: SessionState, marker: str) -> None: ...
    @abstractmethod
    def delete(self, sid: uuid.UUID) -> None: ...

    def multi(self, sid: uuid.UUID, markers: list[str]) -> None:
        raise NotImplementedError

    def real(self, sid: uuid.UUID) -> uuid.UUID:
        """The database's id of a session; looked up by its prompt when its creation was
        unanswered and found committed at recovery."""
        known = self.ledger.ids.get(sid)
        if known is None:
            with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
                row = conn.execute(
                    "select id from public.sessions where prompt = %s",
                    (prompt_of(self.ledger.markers[sid]),),
                ).fetchone()
            assert row is not None, f"session {sid} is live in the ledger but not found"
            known = self.ledger.ids[sid] = row[0]
        return known


def _ir(marker: str) -> Jsonb:
    return Jsonb({"m": marker, "body": {"entities": [marker] * 3}})


class SqlWriter(Writer):
    """Speaks SQL as `authenticated`, one transaction per request, as PostgREST does."""

    multi_supported = True
    conn: Conn | None = None

    def connect(self) -> None:
        self.conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()

    def is_crash(self, exc: Exception) -> bool:
        if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            state = getattr(exc, "sqlstate", None) or ""
            return state == "" or state.startswith(("08", "57"))
        return False

    def request(self) -> Conn:
        assert self.conn is not None
        return self.conn

    def create(self, sid: uuid.UUID, marker: str) -> None:
        conn = self.request()
        with conn.transaction():
            act_as(conn, "authenticated", self.user)
            conn.execute("select set_config('lift.change_description', %s, true)", (marker,))
            row = conn.execute(
                "insert into public.sessions (prompt, current_ir) values (%s, %s) returning id",
                (prompt_of(marker), _ir(marker)),
            ).fetchone()
            assert row is not None
            self.ledger.ids[sid] = row[0]

    def multi(self, sid: uuid.UUID, markers: list[str]) -> None:
        conn = self.request()
        with conn.transaction():
            act_as(conn, "authenticated", self.user)
            conn.execute("select set_config('lift.change_description', %s, true)", (markers[0],))
            row = conn.execute(
                "insert into public.sessions (prompt, current_ir) values (%s, %s) returning id",
                (prompt_of(markers[0]), _ir(markers[0])),
            ).fetchone()
            assert row is not None
            self.ledger.ids[sid] = row[0]
            for n, m in enumerate(markers[1:], start=1):
                conn.execute(
                    "select public.update_session_ir(%s, %s, %s, %s)", (row[0], _ir(m), n, m)
                )

    def write_ir(self, sid: uuid.UUID, before: SessionState, marker: str) -> None:
        conn = self.request()
        with conn.transaction():
            act_as(conn, "authenticated", self.user)
            if self.rng.random() < 0.5:
                conn.execute(
                    "select public.update_session_ir(%s, %s, %s, %s)",
                    (self.real(sid), _ir(marker), len(before.versions), marker),
                )
            else:
                conn.execute("select set_config('lift.change_description', %s, true)", (marker,))
                cur = conn.execute(
                    "update public.sessions set current_ir = %s where id = %s",
                    (_ir(marker), self.real(sid)),
                )
                assert cur.rowcount == 1

    def set_status(self, sid: uuid.UUID, status: SessionStatus) -> None:
        conn = self.request()
        with conn.transaction():
            act_as(conn, "authenticated", self.user)
            cur = conn.execute(
                "update public.sessions set status = %s where id = %s", (status, self.real(sid))
            )
            assert cur.rowcount == 1

    def rollback(self, sid: uuid.UUID, before: SessionState, marker: str) -> None:
        conn = self.request()
        with conn.transaction():
            act_as(conn, "authenticated", self.user)
            conn.execute(
                "select public.rollback_session(%s, 1, %s, %s)",
                (self.real(sid), len(before.versions), marker),
            )

    def delete(self, sid: uuid.UUID) -> None:
        conn = self.request()
        with conn.transaction():
            act_as(conn, "authenticated", self.user)
            conn.execute("select public.delete_session(%s)", (self.real(sid),))


class StoreWriter(Writer):
    """Goes through PostgresSessionStore.for_user(), as the app does."""

    factory: PostgresSessionStore | None = None

    def connect(self) -> None:
        self.factory = PostgresSessionStore(self.url, min_size=1, max_size=1, timeout=10)
        self.store = self.factory.for_user(self.user)
        # Rows read before a crash may predate a write that committed in flight: read again.
        self.ledger.store_rows.clear()

    def close(self) -> None:
        if self.factory is not None:
            self.factory.close()

    def is_crash(self, exc: Exception) -> bool:
        return isinstance(exc, StoreUnavailableError)

    def row(self, sid: uuid.UUID) -> PromptSession:
        known = self.ledger.store_rows.get(sid)
        if known is None:  # written by an earlier round's writer: read it once
            known = self.store.get(self.real(sid))
            assert known is not None
        return known

    def keep(self, sid: uuid.UUID, session: PromptSession) -> None:
        self.ledger.store_rows[sid] = session

    def create(self, sid: uuid.UUID, marker: str) -> None:
        ir = {"m": marker, "body": {"entities": [marker] * 3}}
        session = self.store.create(
            NewSession(prompt=prompt_of(marker), current_ir=ir, change_description=marker)
        )
        self.ledger.ids[sid] = session.id
        self.keep(sid, session)

    def write_ir(self, sid: uuid.UUID, before: SessionState, marker: str) -> None:
        ir = {"m": marker, "body": {"entities": [marker] * 3}}
        self.keep(sid, self.store.update(self.row(sid).with_ir(ir), change_description=marker))

    def set_status(self, sid: uuid.UUID, status: SessionStatus) -> None:
        self.keep(sid, self.store.update(replace(self.row(sid), status=status)))

    def rollback(self, sid: uuid.UUID, before: SessionState, marker: str) -> None:
        self.keep(
            sid,
            self.store.rollback(
                self.real(sid), 1, expected_version=len(before.versions), change_description=marker
            ),
        )

    def delete(self, sid: uuid.UUID) -> None:
        self.store.delete(self.real(sid))
        self.ledger.store_rows.pop(sid, None)


# -- what the database holds ---------------------------------------------------------------------


def read_states(conn: Conn) -> dict[uuid.UUID, SessionState]:
    """Every session, named by the ledger's key (the marker its prompt carries)."""
    sessions = conn.execute(
        "select id, prompt, status, ir_version, current_ir ->> 'm' from public.sessions"
    ).fetchall()
    history: dict[uuid.UUID, list[Version]] = {}
    for sid, description, marker in conn.execute(
        "select session_id, change_description, ir_snapshot ->> 'm'"
        "  from public.session_history order by session_id, version"
    ).fetchall():
        history.setdefault(sid, []).append(Version(description, marker))
    states = {}
    for sid, prompt, status, ir_version, current in sessions:
        versions = tuple(history.get(sid, []))
        assert len(versions) == ir_version, f"session {sid}: ir_version vs history"
        assert not versions or versions[-1].ir_marker == current, f"session {sid}: current IR"
        states[key_of(prompt.removeprefix("prompt of "))] = SessionState(True, status, versions)
    return states


@dataclass
class Outcome:
    acked: int = 0
    acked_after_kill: int = 0
    in_flight: int = 0  # sent before the kill, outcome never learned
    attempted_after_kill: int = 0  # sent after the kill, outcome never learned
    committed: int = 0
    absent: int = 0
    violations: list[str] = field(default_factory=list)


def check(
    ledgers: list[Ledger], actual: dict[uuid.UUID, SessionState], killed_at: float | None = None
) -> Outcome:
    """Compare the recovered database with what each writer saw acknowledged.

    Each session must be as acknowledged, or as the writer's one unanswered write would have
    left it; that write must be found whole (every session it touched as it would have left it)
    or not at all.
    """
    outcome = Outcome()
    for ledger in ledgers:
        outcome.acked += ledger.acked
        pending = ledger.in_flight or {}
        for sid in set(ledger.states) | set(pending):
            found = actual.get(sid, ABSENT)
            acked = ledger.states.get(sid, ABSENT)
            if found != acked and found != pending.get(sid):
                outcome.violations.append(
                    f"session {sid}: acknowledged {acked}, unanswered write would give "
                    f"{pending.get(sid)}, recovered {found}"
                )
        if not pending:
            continue
        if killed_at is None or ledger.in_flight_since <= killed_at:
            outcome.in_flight += 1
        else:
            outcome.attempted_after_kill += 1
        applied = [actual.get(sid, ABSENT) == after for sid, after in pending.items()]
        kept = [actual.get(sid, ABSENT) == ledger.states.get(sid, ABSENT) for sid in pending]
        if all(applied):
            outcome.committed += 1
            ledger.states.update(pending)  # acknowledged now, for the next round
        elif all(kept):
            outcome.absent += 1
        else:
            outcome.violations.append(f"unanswered {ledger.in_flight_kind} is half applied")
        ledger.in_flight = None
    return outcome


def indexes_agree_with_tables(admin_url: str) -> int:
    """amcheck every btree index of the app and of auth; returns how many were checked."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("create extension if not exists amcheck with schema extensions")
        rows = conn.execute(
            "select c.oid::regclass::text from pg_index as i"
            "  join pg_class as c on c.oid = i.indexrelid"
            "  join pg_am as am on am.oid = c.relam"
            " where am.amname = 'btree' and c.relkind = 'i'"
            "   and c.relnamespace::regnamespace::text in ('public', 'auth', 'supabase_migrations')"
        ).fetchall()
        for (index,) in rows:
            conn.execute("select extensions.bt_index_check(%s::regclass, true)", (index,))
    return len(rows)


# -- the test ------------------------------------------------------------------------------------


@pytest.fixture
def users(cluster: Cluster) -> list[uuid.UUID]:
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        return [create_auth_user(conn, f"crash{n}") for n in range(USERS)]


def _writers(
    cluster: Cluster, users: list[uuid.UUID], ledgers: list[Ledger], burst: Burst, round_: int
) -> Iterator[Writer]:
    for n, ledger in enumerate(ledgers):
        sql = n < SQL_WRITERS
        kind: type[Writer] = SqlWriter if sql else StoreWriter
        # Unique across rounds: a marker that repeats could make a new IR equal the current one.
        name = f"{'sql' if sql else 'store'}{n}.round{round_}"
        yield kind(cluster.url(), name, users[n % USERS], ledger, burst, 1000 * round_ + n)


def test_acknowledged_writes_survive_sigkill_mid_burst(
    cluster: Cluster, users: list[uuid.UUID]
) -> None:
    rng = random.Random(20261126)  # noqa: S311 - seeded for reproducible runs
    ledgers = [Ledger() for _ in range(SQL_WRITERS + STORE_WRITERS)]
    totals = Outcome()
    for round_ in range(CRASH_ROUNDS):
        for ledger in ledgers:
            ledger.acked = 0
        burst = Burst(threshold=rng.randint(*KILL_AFTER_ACKS))
        writers = list(_writers(cluster, users, ledgers, burst, round_))
        threads = [threading.Thread(target=w.run, name=w.name) for w in writers]
        for t in threads:
            t.start()
        assert burst.enough.wait(JOIN_TIMEOUT_S), "the writers never got going"

        # Alternate: the postmaster alone (its backends finish what they hold, then exit), and
        # every server process at once.
        postmaster = cluster.postmaster()
        others = [p for p in cluster.server_processes() if p != postmaster]
        burst.kill([postmaster, *others] if round_ % 2 else [postmaster])
        for t in threads:
            t.join(JOIN_TIMEOUT_S)
            assert not t.is_alive(), f"writer {t.name} still running after the kill"
        unexpected = [u for ledger in ledgers for u in ledger.unexpected]
        assert unexpected == [], "writes failed for another reason than the kill"

        started = run_lift_db("start", env=cluster.env)
        assert started.returncode == 0, started.stderr
        assert "stale pid file" in started.stdout
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            assert history_violations(conn) == []
            outcome = check(ledgers, read_states(conn), burst.killed_at)
        assert outcome.violations == [], "\n".join(outcome.violations)
        assert outcome.acked >= burst.threshold
        checked = indexes_agree_with_tables(cluster.url("supabase_admin"))
        assert checked >= 8

        totals.acked += outcome.acked
        totals.acked_after_kill += burst.acked_after_kill
        totals.in_flight += outcome.in_flight
        totals.attempted_after_kill += outcome.attempted_after_kill
        totals.committed += outcome.committed
        totals.absent += outcome.absent
        figures.add("crash: kills (SIGKILL) and restarts", 1)
        figures.add("crash: btree indexes verified by amcheck after recovery", checked)

    # Every acknowledged write was found (the checks above fail otherwise).
    figures.add("crash: writes acknowledged", totals.acked)
    figures.add("crash: writes acknowledged and recovered", totals.acked)
    figures.add(
        "crash: of which acknowledged after the kill by orphaned backends", totals.acked_after_kill
    )
    figures.add(
        "crash: writes in flight at the kill (outcome unknown to the client)", totals.in_flight
    )
    figures.add(
        "crash: writes sent after the kill (outcome unknown to the client)",
        totals.attempted_after_kill,
    )
    figures.add("crash: unanswered writes found committed whole", totals.committed)
    figures.add("crash: unanswered writes found absent whole", totals.absent)

    # The service carries on where it stopped: one more write by each kind of client.
    for writer in _writers(cluster, users, [ledgers[0], ledgers[-1]], Burst(threshold=1), 99):
        writer.connect()
        try:
            assert writer.step(), writer.ledger.unexpected
        finally:
            writer.close()
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        assert history_violations(conn) == []
        assert check(ledgers, read_states(conn)).violations == []


# -- the checker itself catches what it is there to catch ---------------------------------------


def _ledger_with_history() -> tuple[Ledger, uuid.UUID, SessionState]:
    ledger = Ledger()
    sid = uuid.uuid4()
    state = SessionState(True, "active", (Version("a#1", "a#1"), Version("a#2", "a#2")))
    ledger.states[sid] = state
    ledger.acked = 2
    return ledger, sid, state


def test_the_checker_reports_a_lost_acknowledged_write() -> None:
    ledger, sid, state = _ledger_with_history()
    lost = replace(state, versions=state.versions[:1])
    assert check([ledger], {sid: lost}).violations != []
    assert check([ledger], {}).violations != [], "a vanished session is reported"


def test_the_checker_reports_a_half_applied_transaction() -> None:
    ledger, sid, state = _ledger_with_history()
    new = uuid.uuid4()
    three = tuple(Version(f"m{n}", f"m{n}") for n in range(3))
    ledger.in_flight = {new: SessionState(True, "active", three)}
    half = SessionState(True, "active", three[:2])
    assert check([ledger], {sid: state, new: half}).violations != []


def test_the_checker_accepts_an_unanswered_write_whole_or_absent() -> None:
    for committed in (True, False):
        ledger, sid, state = _ledger_with_history()
        after = replace(state, versions=(*state.versions, Version("a#3", "a#3")))
        ledger.in_flight = {sid: after}
        outcome = check([ledger], {sid: after if committed else state})
        assert outcome.violations == []
        assert (outcome.committed, outcome.absent) == ((1, 0) if committed else (0, 1))
