"""Section 6: eight writers updating one session through the store, each retrying on a version
conflict (read again, write again), against the same eight writers on eight sessions of their
own. Every run checks what the database kept: exactly one new version per successful update,
numbered without gaps."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, LiteralString
from uuid import UUID, uuid4

from lift_db.bench.database import BenchDatabase, one
from lift_db.bench.measure import Summary
from lift_db.bench.progress import Progress
from lift_db.bench.results import Figure
from lift_db.bench.rls import Pick, sample
from lift_db.bench.scale import Repeats
from lift_db.bench.workers import run_workers
from lift_db.errors import LiftDbError
from lift_db.store import PostgresSessionStore, VersionConflictError

WRITERS = 8

_VERSIONS: LiteralString = """
select count(*), min(version), max(version)
  from public.session_history
 where session_id = %s and version > %s
"""

_CURRENT_VERSION: LiteralString = "select ir_version from public.sessions where id = %s"


@dataclass
class Tally:
    attempts: int = 0
    conflicts: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def add(self, attempts: int, conflicts: int) -> None:
        with self._lock:
            self.attempts += attempts
            self.conflicts += conflicts


def _writer(
    store: PostgresSessionStore, pick: Pick, updates: int, writer: int, tally: Tally, run: str
) -> None:
    view = store.for_user(pick.user_id)
    attempts = conflicts = 0
    for n in range(updates):
        while True:
            attempts += 1
            session = view.get(pick.session_id)
            if session is None:
                raise LiftDbError(f"benchmark session {pick.session_id} vanished")
            try:
                # Unique per run: an IR equal to the stored one would write no version.
                view.update(session.with_ir({"run": run, "writer": writer, "n": n}))
                break
            except VersionConflictError:
                conflicts += 1  # someone wrote first: read again and retry
    tally.add(attempts, conflicts)


def _versions_before(db: BenchDatabase, ids: list[UUID]) -> dict[UUID, int]:
    with db.connect() as conn:
        out: dict[UUID, int] = {}
        for sid in ids:
            out[sid] = int(one(conn, _CURRENT_VERSION, (sid,))[0])
        return out


def _check_versions(db: BenchDatabase, before: dict[UUID, int], per_session: int) -> None:
    """Each session got exactly `per_session` new versions, contiguous from where it was."""
    with db.connect() as conn:
        for sid, start in before.items():
            row = one(conn, _VERSIONS, (sid, start))
            count, low, high = int(row[0]), row[1], row[2]
            if (count, low, high) != (per_session, start + 1, start + per_session):
                raise LiftDbError(
                    f"session {sid}: expected versions {start + 1}..{start + per_session}, "
                    f"found {count} rows from {low} to {high}"
                )


def _run(db: BenchDatabase, picks: list[Pick], updates: int) -> tuple[float, Tally]:
    """Writer w updates picks[w]; return updates/s and the tally."""
    before = _versions_before(db, list({p.session_id for p in picks}))
    tally = Tally()
    run = uuid4().hex
    with PostgresSessionStore(db.url, min_size=WRITERS, max_size=WRITERS) as store:
        seconds = run_workers(
            lambda arg: _writer(store, arg[1], updates, arg[0], tally, run),
            list(enumerate(picks)),
        )
    per_session = updates * WRITERS // len(before)
    _check_versions(db, before, per_session)
    return updates * WRITERS / seconds, tally


def measure_contention(db: BenchDatabase, repeats: Repeats, progress: Progress) -> list[Figure]:
    with db.connect() as conn:
        own = sample(conn, WRITERS, salt="contention")
    one = [own[0]] * WRITERS
    updates = repeats.contention_updates_per_writer
    rates: dict[str, list[float]] = {"one": [], "own": []}
    conflict_rates: list[float] = []
    attempts_total = 0
    _run(db, one, max(1, updates // 4))  # warm the pool path; not recorded
    for n in range(repeats.contention_runs):
        order = ("one", "own") if n % 2 == 0 else ("own", "one")
        for side in order:
            rate, tally = _run(db, one if side == "one" else own, updates)
            rates[side].append(rate)
            if side == "one":
                conflict_rates.append(100 * tally.conflicts / tally.attempts)
                attempts_total += tally.attempts
    detail: dict[str, Any] = {
        "writers": WRITERS,
        "updates_per_writer": updates,
        "runs_one_session": rates["one"],
        "runs_own_sessions": rates["own"],
        "attempts_one_session": attempts_total,
        "versions_checked": "contiguous, one per successful update, every run",
    }
    progress.say(f"contention: {repeats.contention_runs} runs per side")
    return [
        Figure(
            section="contention",
            name="updates/s, 8 writers",
            unit="updates/s",
            subject_label="one shared session, retry on conflict",
            subject=Summary.of(rates["one"], higher_is_better=True),
            baseline_label="a session per writer",
            baseline=Summary.of(rates["own"], higher_is_better=True),
            higher_is_better=True,
            detail=detail,
        ),
        Figure(
            section="contention",
            name="conflict rate, 8 writers on one session",
            unit="% of attempts",
            subject_label="one shared session, retry on conflict",
            subject=Summary.of(conflict_rates),
            baseline_label="a session per writer (no conflict possible)",
            baseline=None,
            detail={"conflicts_per_success": _per_success(conflict_rates)},
        ),
    ]


def _per_success(conflict_rates: list[float]) -> float | None:
    """Conflicts per successful update implied by the median conflict rate."""
    if not conflict_rates:
        return None
    median = sorted(conflict_rates)[len(conflict_rates) // 2] / 100
    return median / (1 - median) if median < 1 else None
