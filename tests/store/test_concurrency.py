"""Many writers on one session: every update lands as exactly one new version."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

from lift_db.store import NewSession, PostgresSessionStore, SessionStore, VersionConflictError
from tests.store.conftest import Backend

THREADS = 8
UPDATES_PER_THREAD = 100


def _writer(
    store: SessionStore, session_id: uuid.UUID, worker: int, errors: list[BaseException]
) -> None:
    try:
        for n in range(UPDATES_PER_THREAD):
            while True:
                current = store.get(session_id)
                assert current is not None
                try:
                    store.update(
                        current.with_ir({"worker": worker, "n": n}),
                        change_description=f"worker {worker} update {n}",
                    )
                    break
                except VersionConflictError:
                    continue  # someone else wrote first: read again and retry
    except BaseException as exc:  # reported by the test thread
        errors.append(exc)


def test_eight_writers_with_retry_write_exactly_800_contiguous_versions(
    backend: Backend,
) -> None:
    store = backend.factory.for_user(backend.new_user())
    session = store.create(NewSession(prompt="contended"))
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=_writer, args=(store, session.id, w, errors))
        for w in range(THREADS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    history = store.history(session.id)
    total = THREADS * UPDATES_PER_THREAD
    assert [h.version for h in history] == list(range(1, total + 1))
    descriptions = {h.change_description for h in history}
    assert len(descriptions) == total  # every update once: none lost, none duplicated
    final = store.get(session.id)
    assert final is not None
    assert final.ir_version == total
    assert final.current_ir == history[-1].ir_snapshot


def test_writers_on_different_sessions_do_not_conflict(
    pg_factory: PostgresSessionStore, auth_users: Callable[[], uuid.UUID]
) -> None:
    stores = [pg_factory.for_user(auth_users()) for _ in range(4)]
    sessions = [s.create(NewSession(prompt="own")) for s in stores]
    errors: list[BaseException] = []

    def run(store: SessionStore, session_id: uuid.UUID) -> None:
        try:
            current = store.get(session_id)
            for n in range(25):
                assert current is not None
                current = store.update(current.with_ir({"n": n}))
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(st, se.id))
        for st, se in zip(stores, sessions, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for store, session in zip(stores, sessions, strict=True):
        assert [h.version for h in store.history(session.id)] == list(range(1, 26))
