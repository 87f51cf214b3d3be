"""Section 5: operations per second through PostgresSessionStore against raw psycopg sending the
very same statements (lift_db.store.postgres.queries) in the same transactions, with one
connection and with eight.

One cycle is what a client does with a session: get it, list the user's active sessions (page of
20), write a new IR, read the history: four operations. Each worker owns its sessions, so no two
workers touch the same row; the store's pool (size 1 or 8) is compared with one plain connection
per worker. Store and raw runs alternate on the same sessions.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from functools import partial
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from lift_db.bench.database import BenchDatabase, one
from lift_db.bench.measure import Summary
from lift_db.bench.progress import Progress
from lift_db.bench.requests import Identity, act_as
from lift_db.bench.results import Figure, Goal
from lift_db.bench.rls import Pick, sample
from lift_db.bench.scale import Repeats
from lift_db.bench.workers import run_workers
from lift_db.errors import LiftDbError
from lift_db.store import PostgresSessionStore
from lift_db.store.postgres import queries as q
from lift_db.store.postgres._base import PREPARE_ON_FIRST_USE

OPS_PER_CYCLE = 4
STORE_GOAL = Goal("ratio ≥ 0.90", "ratio", ">=", 0.90)
_revision = itertools.count(1)


def _ir(base: dict[str, Any]) -> dict[str, Any]:
    return {**base, "revision": next(_revision)}


def store_cycle(store: PostgresSessionStore, pick: Pick, base_ir: dict[str, Any]) -> None:
    view = store.for_user(pick.user_id)
    session = view.get(pick.session_id)
    if session is None:
        raise LiftDbError(f"benchmark session {pick.session_id} vanished")
    view.list_active(limit=20)
    view.update(session.with_ir(_ir(base_ir)))
    view.history(pick.session_id)


def raw_cycle(conn: psycopg.Connection[Any], pick: Pick, base_ir: dict[str, Any]) -> None:
    who = Identity.user(pick.user_id)
    sid = pick.session_id
    with conn.transaction():
        act_as(conn, who)
        got = conn.execute(q.GET_SESSION, (sid,)).fetchone()
    if got is None:
        raise LiftDbError(f"benchmark session {sid} vanished")
    with conn.transaction():
        act_as(conn, who, q.OWN_LIST_SETTINGS)
        conn.execute(q.LIST_OWN_SESSIONS_BY_STATUS, (pick.user_id, "active", 20)).fetchall()
    with conn.transaction():
        act_as(conn, who)
        row = one(conn, q.LOCK_SESSION, (sid,))
        _, _, prompt, status, _, _, metadata, _, _ = row
        conn.execute(q.SET_CHANGE_DESCRIPTION, ("",))
        conn.execute(
            q.UPDATE_FIELDS_AND_IR,
            (prompt, status, Jsonb(metadata), Jsonb(_ir(base_ir)), sid),
        ).fetchone()
    with conn.transaction():
        act_as(conn, who)
        conn.execute(q.SESSION_EXISTS, (sid,)).fetchone()
        conn.execute(q.HISTORY, (sid,)).fetchall()


def _store_run(url: str, shares: list[list[Pick]], base_ir: dict[str, Any]) -> float:
    workers = len(shares)
    with PostgresSessionStore(url, min_size=workers, max_size=workers) as store:

        def work(picks: list[Pick]) -> None:
            for pick in picks:
                store_cycle(store, pick, base_ir)

        seconds = run_workers(work, shares)
    return sum(len(s) for s in shares) * OPS_PER_CYCLE / seconds


def _raw_run(url: str, shares: list[list[Pick]], base_ir: dict[str, Any]) -> float:
    # Prepared on first use, as the store prepares them on a direct connection.
    conns = [
        psycopg.connect(url, autocommit=True, prepare_threshold=PREPARE_ON_FIRST_USE)
        for _ in range(len(shares))
    ]
    try:

        def work(arg: tuple[psycopg.Connection[Any], list[Pick]]) -> None:
            conn, picks = arg
            for pick in picks:
                raw_cycle(conn, pick, base_ir)

        seconds = run_workers(work, list(zip(conns, shares, strict=True)))
    finally:
        for conn in conns:
            conn.close()
    return sum(len(s) for s in shares) * OPS_PER_CYCLE / seconds


def measure_store(db: BenchDatabase, repeats: Repeats, progress: Progress) -> list[Figure]:
    figures: list[Figure] = []
    cycles = max(1, repeats.store_ops_per_worker // OPS_PER_CYCLE)
    with db.connect() as conn:
        base_ir: dict[str, Any] = one(conn, "select bench.synthetic_ir(2, 4)")[0]
        picks = sample(conn, 8 * cycles, salt="store")
    for workers in (1, 8):
        shares = [picks[w::workers][:cycles] for w in range(workers)]
        runs: dict[str, list[float]] = {"store": [], "raw": []}
        sides: dict[str, Callable[[], float]] = {
            "store": partial(_store_run, db.url, shares, base_ir),
            "raw": partial(_raw_run, db.url, shares, base_ir),
        }
        # One unrecorded round warms both paths (connections, caches, plans).
        sides["store"]()
        sides["raw"]()
        for n in range(repeats.store_runs):
            order = ("store", "raw") if n % 2 == 0 else ("raw", "store")
            for side in order:
                runs[side].append(sides[side]())
        label = "1 connection" if workers == 1 else f"pool of {workers}"
        figures.append(
            Figure(
                section="store",
                name=f"operations/s, {label}",
                unit="ops/s",
                subject_label="PostgresSessionStore",
                subject=Summary.of(runs["store"], higher_is_better=True),
                baseline_label="raw psycopg, same statements",
                baseline=Summary.of(runs["raw"], higher_is_better=True),
                higher_is_better=True,
                goal=STORE_GOAL,
                detail={
                    "workers": workers,
                    "operations_per_run": workers * cycles * OPS_PER_CYCLE,
                    "cycle": "get, list active (20), update IR, read history",
                    "runs_store": runs["store"],
                    "runs_raw": runs["raw"],
                },
            )
        )
        progress.say(f"store: {label}: {repeats.store_runs} runs per side")
    return figures
