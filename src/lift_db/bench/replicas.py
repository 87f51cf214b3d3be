"""Section 7: a streaming standby as read replica, against the primary alone.

A standby of the local server is copied with pg_basebackup once the benchmark's data exists,
on the server's port + 30 (the tests' standby uses + 20), and dropped at the end. Three figures,
eight workers each owning their sessions, store against store:
- reads (list 20 active sessions, read a history) served by the replica, against the primary;
- writes (a new IR) with the standby streaming and the store noting each write's WAL position,
  against the primary alone (standby stopped, no read_urls): the price of attaching one;
- a write then a read of it (read-your-writes): the read waits for the replica to replay the
  write, at most `replica_wait`, else goes to the primary; the detail says how many reads the
  replica served and how many fell back.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from lift_db.bench.database import BenchDatabase, local_server, one
from lift_db.bench.measure import Summary
from lift_db.bench.progress import Progress
from lift_db.bench.results import Figure
from lift_db.bench.rls import Pick, sample
from lift_db.bench.scale import Repeats
from lift_db.bench.workers import run_workers
from lift_db.errors import LiftDbError
from lift_db.local._service import free_or_any_port
from lift_db.local.project import find_project
from lift_db.local.replica import LocalReplica
from lift_db.store import PostgresSessionStore

BENCH_REPLICA_OFFSET = 30
WORKERS = 8
REPLICA_WAIT_S = 0.5
_revision = itertools.count(1)

Cycle = Callable[[PostgresSessionStore, Pick, dict[str, Any]], None]


def read_cycle(store: PostgresSessionStore, pick: Pick, base_ir: dict[str, Any]) -> None:
    view = store.for_user(pick.user_id)
    view.list_active(limit=20)
    view.history(pick.session_id)


def write_cycle(store: PostgresSessionStore, pick: Pick, base_ir: dict[str, Any]) -> None:
    view = store.for_user(pick.user_id)
    session = view.get(pick.session_id)
    if session is None:
        raise LiftDbError(f"benchmark session {pick.session_id} vanished")
    view.update(session.with_ir({**base_ir, "revision": next(_revision)}))


def read_own_write_cycle(store: PostgresSessionStore, pick: Pick, base_ir: dict[str, Any]) -> None:
    write_cycle(store, pick, base_ir)
    read_cycle(store, pick, base_ir)


OPS: dict[Cycle, int] = {read_cycle: 2, write_cycle: 2, read_own_write_cycle: 4}


def _run(
    url: str, read_urls: list[str], shares: list[list[Pick]], cycle: Cycle, base_ir: dict[str, Any]
) -> tuple[float, dict[str, int]]:
    with PostgresSessionStore(
        url,
        min_size=WORKERS,
        max_size=WORKERS,
        read_urls=read_urls,
        replica_wait=REPLICA_WAIT_S,
    ) as store:

        def work(picks: list[Pick]) -> None:
            for pick in picks:
                cycle(store, pick, base_ir)

        seconds = run_workers(work, shares)
        counts = dict(vars(store.replicas.counts)) if store.replicas else {}
    return sum(len(s) for s in shares) * OPS[cycle] / seconds, counts


def measure(db: BenchDatabase, repeats: Repeats, progress: Progress) -> list[Figure]:
    server = local_server(find_project())
    replica = LocalReplica(server, "bench-replica")
    replica.destroy()
    replica.start(port=free_or_any_port(server.port() + BENCH_REPLICA_OFFSET), out=None)
    try:
        return _measure(db, repeats, progress, replica)
    finally:
        replica.destroy()


def _measure(
    db: BenchDatabase, repeats: Repeats, progress: Progress, replica: LocalReplica
) -> list[Figure]:
    cycles = max(1, repeats.store_ops_per_worker // 4)
    with db.connect() as conn:
        base_ir: dict[str, Any] = one(conn, "select bench.synthetic_ir(2, 4)")[0]
        picks = sample(conn, WORKERS * cycles, salt="replica")
    shares = [picks[w::WORKERS][:cycles] for w in range(WORKERS)]
    replica_url = replica.url(dbname=db.name)
    figures: list[Figure] = []
    specs: list[tuple[str, Cycle, bool]] = [
        ("reads/s through the replica (list 20, history)", read_cycle, False),
        ("writes/s with a replica attached (new IR)", write_cycle, True),
        ("operations/s, write then read it back (read-your-writes)", read_own_write_cycle, False),
    ]
    for name, cycle, stop_for_baseline in specs:
        subject: list[float] = []
        baseline: list[float] = []
        counts: dict[str, int] = {}
        _run(db.url, [replica_url], shares, cycle, base_ir)  # warm both paths
        _run(db.url, [], shares, cycle, base_ir)
        for n in range(repeats.store_runs):
            for side in ("replica", "primary") if n % 2 == 0 else ("primary", "replica"):
                if side == "primary":
                    if stop_for_baseline:
                        replica.stop()
                    rate, _ = _run(db.url, [], shares, cycle, base_ir)
                    baseline.append(rate)
                    if stop_for_baseline:
                        replica.start(out=None)
                else:
                    rate, seen = _run(db.url, [replica_url], shares, cycle, base_ir)
                    subject.append(rate)
                    for key, value in seen.items():
                        counts[key] = counts.get(key, 0) + value
        reads = sum(counts.values())
        note = ""
        if reads:
            note = (
                f"replica served {counts.get('replica', 0)} of {reads} reads; "
                f"{counts.get('primary_lagging', 0)} went to the primary after waiting "
                f"{REPLICA_WAIT_S} s for replay"
            )
        figures.append(
            Figure(
                section="replica",
                name=name,
                unit="ops/s",
                subject_label="store with read_urls (standby)",
                subject=Summary.of(subject, higher_is_better=True),
                baseline_label="store, primary alone",
                baseline=Summary.of(baseline, higher_is_better=True),
                higher_is_better=True,
                note=note,
                detail={
                    "workers": WORKERS,
                    "cycles_per_worker": cycles,
                    "replica_wait_s": REPLICA_WAIT_S,
                    "reads_routed": counts,
                    "baseline_standby": "stopped" if stop_for_baseline else "streaming, unused",
                    "runs_replica": subject,
                    "runs_primary": baseline,
                },
            )
        )
        progress.say(f"replica: {name}: {repeats.store_runs} runs per side")
    return figures
