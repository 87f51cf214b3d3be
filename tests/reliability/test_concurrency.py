"""Many clients at once: no lost update, no duplicate version, only typed, expected failures.

Clients of three kinds work on the same and on different sessions at the same time: the session
store (as the owner, and in service mode), SQL through `update_session_ir` with the version the
client read, and a PostgREST-style conditional PATCH (`... where ir_version = <read>`). Each
client keeps a counter of its own in the session's IR and increments it read-modify-write,
retrying when another writer got there first. Meanwhile sessions are deleted, and an account
is deleted, under the writers' feet.

At the end, every surviving session's counters equal the increments their clients saw
acknowledged (nothing lost, nothing applied twice), its version equals the number of writes, its
history is contiguous, and deleted sessions left nothing behind. Every failure a client saw is a
`VersionConflictError` or a `NotFoundError` (or a retryable `ConflictError`, never a deadlock);
anything else fails the test.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from lift_db.local.target import connect
from lift_db.store import (
    NewSession,
    NotFoundError,
    PermissionDeniedError,
    PostgresSessionStore,
    SessionStore,
    StoreError,
    VersionConflictError,
)
from lift_db.store.errors import ConflictError
from lift_db.store.postgres.sqlstate import map_error
from tests.reliability import figures
from tests.reliability.support import FUZZ_EXAMPLES, as_role, history_violations

INCREMENTS = 25 * max(1, FUZZ_EXAMPLES // 40)  # per client; `make fuzz` raises it
MAX_RETRIES = 400  # a client starved this long is a failure, not a slow run
BARRIER_TIMEOUT_S = 120


@dataclass
class Tally:
    """What one client saw: acknowledged increments per session, and every failure by type."""

    acked: Counter[uuid.UUID] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    not_found: set[uuid.UUID] = field(default_factory=set)
    unexpected: list[str] = field(default_factory=list)


Increment = Callable[[uuid.UUID, str], None]


def _bump(ir: dict[str, Any] | None, client: str) -> dict[str, Any]:
    counts = dict((ir or {}).get("counts", {}))
    counts[client] = counts.get(client, 0) + 1
    return {"counts": counts}


def store_increment(store: SessionStore) -> Increment:
    def increment(sid: uuid.UUID, client: str) -> None:
        current = store.get(sid)
        if current is None:
            raise NotFoundError(f"session {sid} not found")
        store.update(current.with_ir(_bump(current.current_ir, client)), change_description=client)

    return increment


def rpc_increment(conn: psycopg.Connection[Any], user: uuid.UUID) -> Increment:

    def increment(sid: uuid.UUID, client: str) -> None:
        try:
            with as_role(conn, "authenticated", user):
                row = conn.execute(
                    "select current_ir, ir_version from public.sessions where id = %s", (sid,)
                ).fetchone()
            if row is None:
                raise NotFoundError(f"session {sid} not found")
            with as_role(conn, "authenticated", user):
                conn.execute(
                    "select public.update_session_ir(%s, %s, %s, %s)",
                    (sid, Jsonb(_bump(row[0], client)), row[1], client),
                )
        except psycopg.Error as exc:
            raise map_error(exc, sid) from exc

    return increment


def patch_increment(conn: psycopg.Connection[Any], user: uuid.UUID) -> Increment:
    """PATCH /sessions?id=eq.<id>&ir_version=eq.<read>: zero rows means someone was first."""

    def increment(sid: uuid.UUID, client: str) -> None:
        try:
            with as_role(conn, "authenticated", user):
                row = conn.execute(
                    "select current_ir, ir_version from public.sessions where id = %s", (sid,)
                ).fetchone()
            if row is None:
                raise NotFoundError(f"session {sid} not found")
            with as_role(conn, "authenticated", user):
                conn.execute("select set_config('lift.change_description', %s, true)", (client,))
                cur = conn.execute(
                    "update public.sessions set current_ir = %s where id = %s and ir_version = %s",
                    (Jsonb(_bump(row[0], client)), sid, row[1]),
                )
            if cur.rowcount == 0:
                raise VersionConflictError(sid, row[1], None, "conditional PATCH matched no row")
        except psycopg.Error as exc:
            raise map_error(exc, sid) from exc

    return increment


def run_client(
    name: str,
    increment: Increment,
    sessions: list[uuid.UUID],
    tally: Tally,
    start: threading.Barrier,
    seed: int,
) -> None:
    rng = random.Random(seed)  # noqa: S311 - seeded for reproducible runs
    choices = list(sessions)
    try:
        start.wait()
        for _ in range(INCREMENTS):
            if not choices:
                return
            sid = rng.choice(choices)
            for _attempt in range(MAX_RETRIES):
                try:
                    increment(sid, name)
                except VersionConflictError:
                    tally.failures["VersionConflictError"] += 1
                    continue
                except NotFoundError:
                    tally.failures["NotFoundError"] += 1
                    tally.not_found.add(sid)
                    choices.remove(sid)
                    break
                except ConflictError as exc:
                    tally.failures["ConflictError"] += 1
                    if "40P01" in str(exc):
                        tally.unexpected.append(f"{name}: deadlock surfaced: {exc}")
                        return
                    continue
                tally.acked[sid] += 1
                break
            else:
                tally.unexpected.append(f"{name}: starved on {sid} after {MAX_RETRIES} conflicts")
                return
    except StoreError as exc:
        tally.unexpected.append(f"{name}: {type(exc).__name__}: {exc}")
    except Exception as exc:
        tally.unexpected.append(f"{name}: untyped {type(exc).__name__}: {exc}")


@pytest.fixture
def store(db_url: str) -> Iterator[PostgresSessionStore]:
    factory = PostgresSessionStore(db_url, max_size=12)
    yield factory
    factory.close()


@pytest.fixture
def conn_for(db_url: str) -> Iterator[Callable[[], psycopg.Connection[Any]]]:
    """One connection per SQL client, closed afterwards."""
    opened: list[psycopg.Connection[Any]] = []

    def make() -> psycopg.Connection[Any]:
        conn = psycopg.connect(db_url, autocommit=True)
        opened.append(conn)
        return conn

    yield make
    for conn in opened:
        conn.close()


def _session(url: str, user: uuid.UUID, prompt: str) -> uuid.UUID:
    with connect(url) as conn, as_role(conn, "authenticated", user):
        row = conn.execute(
            "insert into public.sessions (prompt, current_ir) values (%s, %s) returning id",
            (prompt, Jsonb({"counts": {}})),
        ).fetchone()
    assert row is not None
    sid = row[0]
    assert isinstance(sid, uuid.UUID)
    return sid


def test_writers_deleters_and_an_account_deletion_lose_nothing(
    db_url: str,
    api_users: Callable[[str], uuid.UUID],
    store: PostgresSessionStore,
    conn_for: Callable[[], psycopg.Connection[Any]],
) -> None:
    ada, bob, leaver = api_users("ada"), api_users("bob"), api_users("leaver")
    hot = [_session(db_url, ada, f"hot {n}") for n in range(2)]
    doomed = [_session(db_url, ada, f"doomed {n}") for n in range(2)]
    bobs = [_session(db_url, bob, "bob's")]
    leavers = [_session(db_url, leaver, "leaver's")]

    clients: list[tuple[str, Increment, list[uuid.UUID]]] = []
    for n in range(2):
        clients.append((f"ada-store{n}", store_increment(store.for_user(ada)), hot + doomed))
        clients.append((f"ada-rpc{n}", rpc_increment(conn_for(), ada), hot + doomed))
        clients.append((f"ada-patch{n}", patch_increment(conn_for(), ada), hot + doomed))
    clients.append(("service", store_increment(store.service()), hot[:1]))
    clients.append(("bob-store", store_increment(store.for_user(bob)), bobs))
    clients.append(("bob-rpc", rpc_increment(conn_for(), bob), bobs))
    clients.append(("leaver-store", store_increment(store.for_user(leaver)), leavers))
    clients.append(("leaver-rpc", rpc_increment(conn_for(), leaver), leavers))

    tallies = {name: Tally() for name, _, _ in clients}
    start = threading.Barrier(len(clients) + 1, timeout=BARRIER_TIMEOUT_S)
    threads = [
        threading.Thread(target=run_client, args=(name, inc, sessions, tallies[name], start, seed))
        for seed, (name, inc, sessions) in enumerate(clients)
    ]
    for t in threads:
        t.start()
    start.wait()
    # Under the writers' feet: the owner deletes two sessions, Auth deletes an account.
    ada_store = store.for_user(ada)
    while sum(t.acked[doomed[0]] + t.acked[doomed[1]] for t in tallies.values()) < 10:
        if not any(t.is_alive() for t in threads):
            break
        threading.Event().wait(0.005)
    for sid in doomed:
        ada_store.delete(sid)
    with connect(db_url) as conn:
        conn.execute("delete from auth.users where id = %s", (leaver,))
    for t in threads:
        t.join()

    unexpected = [u for t in tallies.values() for u in t.unexpected]
    assert unexpected == [], "\n".join(unexpected)
    gone = set(doomed) | set(leavers)
    for name, tally in tallies.items():
        assert tally.not_found <= gone, f"{name} lost a session that was never deleted"

    with connect(db_url) as conn:
        assert history_violations(conn) == []
        for sid in [*hot, *bobs]:
            row = conn.execute(
                "select current_ir, ir_version from public.sessions where id = %s", (sid,)
            ).fetchone()
            assert row is not None
            counts, version = row[0]["counts"], row[1]
            expected = {name: t.acked[sid] for name, t in tallies.items() if t.acked[sid]}
            assert counts == expected, f"session {sid}: lost or doubled increments"
            assert version == 1 + sum(expected.values()), f"session {sid}: phantom versions"
            described = conn.execute(
                "select change_description, count(*) from public.session_history"
                " where session_id = %s and version > 1 group by 1",
                (sid,),
            ).fetchall()
            assert dict(described) == expected, "every increment is one version, once"
        for sid in gone:
            left = conn.execute(
                "select (select count(*) from public.sessions where id = %(s)s),"
                " (select count(*) from public.session_history where session_id = %(s)s)",
                {"s": sid},
            ).fetchone()
            assert left == (0, 0), f"deleted session {sid} left rows behind"

    failures: Counter[str] = Counter()
    for tally in tallies.values():
        failures.update(tally.failures)
    acked = sum(sum(t.acked.values()) for t in tallies.values())
    assert acked > 0
    figures.add("concurrency: clients", len(clients))
    figures.add("concurrency: increments acknowledged (all found exactly once)", acked)
    for kind, count in sorted(failures.items()):
        figures.add(f"concurrency: typed failures seen by clients: {kind}", count)
    figures.add("concurrency: deadlocks surfaced", 0)


def test_rollbacks_and_blind_writes_racing_on_one_session_keep_history_whole(
    db_url: str, api_users: Callable[[str], uuid.UUID], store: PostgresSessionStore
) -> None:
    """Writers without a version check, version-checked writers and rollbacks on one session:
    every acknowledged write is exactly one version, and the history stays contiguous."""
    owner = api_users("racer")
    sid = _session(db_url, owner, "raced")
    view = store.for_user(owner)
    start = threading.Barrier(6, timeout=BARRIER_TIMEOUT_S)
    acked: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        rng = random.Random(n)  # noqa: S311 - seeded for reproducible runs
        start.wait()
        for i in range(20):
            marker = f"w{n}-{i}"
            try:
                if n < 2:
                    view.rollback(sid, 1, change_description=marker)
                elif n < 4:
                    current = view.get(sid)
                    assert current is not None
                    view.update(current.with_ir({"w": marker}), change_description=marker)
                else:
                    with connect(db_url) as conn, as_role(conn, "authenticated", owner):
                        conn.execute(
                            "select public.update_session_ir(%s, %s, null, %s)",
                            (sid, Jsonb({"w": marker}), marker),
                        )
            except VersionConflictError:
                continue
            except (StoreError, psycopg.Error, AssertionError) as exc:
                with lock:
                    errors.append(f"{marker}: {type(exc).__name__}: {exc}")
                continue
            with lock:
                acked.append(marker)
            if rng.random() < 0.1:
                threading.Event().wait(0.001)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    history = view.history(sid)
    assert [h.version for h in history] == list(range(1, len(history) + 1))
    assert sorted(h.change_description or "" for h in history[1:]) == sorted(acked)
    first = history[0].ir_snapshot
    for h in history[1:]:
        if h.change_description and h.change_description.startswith(("w0-", "w1-")):
            assert h.ir_snapshot == first, "a rollback restores version 1 exactly"
    final = view.get(sid)
    assert final is not None
    assert final.ir_version == len(history)
    assert final.current_ir == history[-1].ir_snapshot
    figures.add("concurrency: racing writes and rollbacks acknowledged", len(acked))


def test_a_store_update_never_waits_for_the_owners_profile_row(
    db_url: str, api_users: Callable[[str], uuid.UUID], store: PostgresSessionStore
) -> None:
    """Deleting an account locks its profile row, then its sessions. A writer that holds a
    session and then asks for the profile row (a second UPDATE of a row the same transaction
    already changed re-checks its foreign key, FOR KEY SHARE on the profile) closes a deadlock.
    Here the profile row is held as a deletion would hold it; the store's update (IR, status
    and metadata at once) must finish without waiting for it."""
    owner = api_users("profile-lock")
    view = store.for_user(owner)
    session = view.create(NewSession(prompt="held", current_ir={"v": 1}))
    done = threading.Event()
    failure: list[BaseException] = []

    def update() -> None:
        try:
            view.update(
                replace(session.with_ir({"v": 2}), status="finalized", holes=["h"]),
                change_description="while the profile is locked",
            )
        except BaseException as exc:
            failure.append(exc)
        finally:
            done.set()

    with psycopg.connect(db_url, autocommit=True) as deleter:
        blocked: list[int] = []
        with deleter.transaction():
            deleter.execute("select 1 from public.users where id = %s for update", (owner,))
            writer = threading.Thread(target=update)
            writer.start()
            while not done.is_set():
                deleter.execute("select pg_stat_clear_snapshot()")
                blocked = [
                    int(r[0])
                    for r in deleter.execute(
                        "select pid from pg_stat_activity"
                        " where pg_backend_pid() = any(pg_blocking_pids(pid))"
                    ).fetchall()
                ]
                if blocked:
                    break
                done.wait(0.01)
        writer.join()
    assert blocked == [], "the store's update waited for the owner's profile row"
    assert failure == []
    final = view.get(session.id)
    assert final is not None
    assert (final.ir_version, final.status, final.holes) == (2, "finalized", ["h"])


def test_editors_write_while_the_owner_shares_and_unshares(
    db_url: str,
    api_users: Callable[[str], uuid.UUID],
    store: PostgresSessionStore,
    conn_for: Callable[[], psycopg.Connection[Any]],
) -> None:
    """Two editors and the owner increment counters on one session while the owner revokes and
    grants the editors' shares (and turns one into a viewer and back). A write lands whole or
    not at all: counters equal the acknowledged increments, and every refusal is typed
    (NotFoundError once unshared, PermissionDeniedError as a viewer, VersionConflictError)."""
    owner, first, second = api_users("sharer"), api_users("editor1"), api_users("editor2")
    sid = _session(db_url, owner, "shared and unshared")
    owner_store = store.for_user(owner)
    owner_store.share(sid, first, "editor")
    owner_store.share(sid, second, "editor")
    clients: list[tuple[str, Increment]] = [
        ("owner", store_increment(owner_store)),
        ("first-store", store_increment(store.for_user(first))),
        ("first-rpc", rpc_increment(conn_for(), first)),
        ("second-store", store_increment(store.for_user(second))),
        ("second-rpc", rpc_increment(conn_for(), second)),
    ]
    tallies = {name: Tally() for name, _ in clients}
    done = threading.Event()
    start = threading.Barrier(len(clients) + 1, timeout=BARRIER_TIMEOUT_S)
    toggles = Counter[str]()

    def write(name: str, increment: Increment) -> None:
        tally = tallies[name]
        start.wait()
        for _ in range(INCREMENTS):
            for _attempt in range(MAX_RETRIES):
                try:
                    increment(sid, name)
                except VersionConflictError:
                    tally.failures["VersionConflictError"] += 1
                    continue
                except (NotFoundError, PermissionDeniedError) as exc:
                    tally.failures[type(exc).__name__] += 1
                    break  # no access at the moment: the next increment may have it again
                except StoreError as exc:
                    tally.unexpected.append(f"{name}: {type(exc).__name__}: {exc}")
                    return
                tally.acked[sid] += 1
                break

    def toggle() -> None:
        start.wait()
        n = 0
        while not done.is_set():
            n += 1
            if n % 2:
                owner_store.unshare(sid, second)
                owner_store.share(sid, first, "viewer")
                toggles["revoked"] += 1
            else:
                owner_store.share(sid, second, "editor")
                owner_store.share(sid, first, "editor")
                toggles["granted"] += 1
            threading.Event().wait(0.002)

    writers = [threading.Thread(target=write, args=client) for client in clients]
    toggler = threading.Thread(target=toggle)
    for t in [*writers, toggler]:
        t.start()
    for t in writers:
        t.join()
    done.set()
    toggler.join()

    unexpected = [u for t in tallies.values() for u in t.unexpected]
    assert unexpected == [], "\n".join(unexpected)
    final = owner_store.get(sid)
    assert final is not None
    assert final.current_ir is not None
    expected = {name: t.acked[sid] for name, t in tallies.items() if t.acked[sid]}
    assert final.current_ir["counts"] == expected, "lost or doubled increments"
    assert final.ir_version == 1 + sum(expected.values())
    history = owner_store.history(sid)
    assert [h.version for h in history] == list(range(1, final.ir_version + 1))
    assert Counter(h.change_description for h in history[1:]) == Counter(expected)
    refusals = Counter[str]()
    for tally in tallies.values():
        refusals.update(tally.failures)
    assert toggles["revoked"] > 0
    figures.add(
        "concurrency: increments acknowledged (all found exactly once)", sum(expected.values())
    )
    figures.add("concurrency: shares revoked and granted under the writers", sum(toggles.values()))
    for kind, count in sorted(refusals.items()):
        figures.add(f"concurrency: typed failures seen by clients: {kind}", count)


@pytest.mark.parametrize("function", ["update_session_ir", "rollback_session"])
def test_an_ir_write_that_loses_its_right_mid_call_fails_instead_of_writing_nothing(
    db_url: str, api_users: Callable[[str], uuid.UUID], store: PostgresSessionStore, function: str
) -> None:
    """An editor's call waits for the session's row lock; meanwhile the owner turns the editor
    into a viewer. The call's row lock still sees the share it started with, its UPDATE no
    longer does: the function must fail (PT404), not report success having written nothing."""
    owner, editor = api_users("revoker"), api_users("revoked")
    owner_store = store.for_user(owner)
    session = owner_store.create(NewSession(prompt="revoked mid-call", current_ir={"v": 1}))
    owner_store.share(session.id, editor, "editor")
    call = {
        "update_session_ir": "select public.update_session_ir(%s, '{\"v\": 2}', null, 'mid-call')",
        "rollback_session": "select public.rollback_session(%s, 1, null, 'mid-call')",
    }[function]
    outcome: list[object] = []

    def edit() -> None:
        try:
            with (
                psycopg.connect(db_url, autocommit=True) as conn,
                as_role(conn, "authenticated", editor),
            ):
                row = conn.execute(call, (session.id,)).fetchone()
                outcome.append(row[0] if row else None)
        except psycopg.Error as exc:
            outcome.append(exc)

    with psycopg.connect(db_url, autocommit=True) as holder:
        with holder.transaction():
            # FOR NO KEY UPDATE holds the editor's FOR UPDATE off, not the owner's share write
            # (whose foreign key check takes FOR KEY SHARE).
            holder.execute(
                "select 1 from public.sessions where id = %s for no key update", (session.id,)
            )
            writer = threading.Thread(target=edit)
            writer.start()
            # pg_stat_activity is read once per transaction unless the snapshot is cleared.
            blocked = (
                "select exists (select from pg_stat_activity"
                " where pg_backend_pid() = any(pg_blocking_pids(pid)))"
            )
            while writer.is_alive():
                holder.execute("select pg_stat_clear_snapshot()")
                if holder.execute(blocked).fetchone() == (True,):
                    break
                threading.Event().wait(0.01)
            assert writer.is_alive(), f"the editor's call did not wait for the lock: {outcome}"
            owner_store.share(session.id, editor, "viewer")
        writer.join()
    [result] = outcome
    assert isinstance(result, psycopg.Error), f"the call reported success: {result!r}"
    assert result.sqlstate == "PT404"
    assert [h.version for h in owner_store.history(session.id)] == [1]
