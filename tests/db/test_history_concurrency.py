"""IR versions stay contiguous when several clients write one session at the same time.

Each writer is its own connection acting as the session's owner the way PostgREST does: one
transaction per request, `role` and `request.jwt.claims` set locally, then the statement. The
database must hand out versions 1, 2, 3... with no gap and no duplicate, record every write in
session_history exactly once, and refuse (writing nothing) every update whose expected version
another writer has already moved past.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from lift_db.local.project import find_project
from lift_db.local.target import resolve_target

WRITERS = 6
WRITES_PER_WRITER = 12
ROUNDS = 8
VERSION_CONFLICT = "PT409"
# Only so that a writer that died cannot leave the others waiting forever.
BARRIER_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def url() -> str:
    return resolve_target(find_project(Path(__file__).parent)).url


@pytest.fixture
def owner(url: str) -> Iterator[uuid.UUID]:
    """A signed-up user (auth.users row, profile by trigger); deleting it removes what it owns."""
    user_id = uuid.uuid4()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into auth.users (id, aud, role, email, raw_app_meta_data, created_at,"
            " updated_at) values (%s, 'authenticated', 'authenticated', %s, %s, now(), now())",
            (user_id, f"writer-{user_id}@test.lift-sys.dev", Jsonb({"provider": "email"})),
        )
    try:
        yield user_id
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("delete from auth.users where id = %s", (user_id,))


def act_as(conn: psycopg.Connection[TupleRow], user_id: uuid.UUID) -> None:
    """What PostgREST does at the start of each request's transaction."""
    claims = json.dumps({"sub": str(user_id), "role": "authenticated"})
    conn.execute(
        "select set_config('role', 'authenticated', true),"
        " set_config('request.jwt.claims', %s, true)",
        (claims,),
    )


def create_session(url: str, user_id: uuid.UUID) -> uuid.UUID:
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        act_as(conn, user_id)
        row = conn.execute(
            "insert into public.sessions (prompt, current_ir) values (%s, %s) returning id",
            ("Build a concurrent todo app", Jsonb({"writer": None, "n": None})),
        ).fetchone()
    assert row is not None
    session_id = row[0]
    assert isinstance(session_id, uuid.UUID)
    return session_id


@dataclass(frozen=True)
class Version:
    version: int
    ir: dict[str, object]
    description: str | None


def history(url: str, user_id: uuid.UUID, session_id: uuid.UUID) -> list[Version]:
    """The session's history as its owner reads it, in version order."""
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        act_as(conn, user_id)
        rows = conn.execute(
            "select version, ir_snapshot, change_description from public.session_history"
            " where session_id = %s order by version",
            (session_id,),
        ).fetchall()
    return [Version(int(v), dict(ir), d) for v, ir, d in rows]


def current(url: str, user_id: uuid.UUID, session_id: uuid.UUID) -> tuple[int, dict[str, object]]:
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        act_as(conn, user_id)
        row = conn.execute(
            "select ir_version, current_ir from public.sessions where id = %s", (session_id,)
        ).fetchone()
    assert row is not None
    version, ir = row
    assert isinstance(version, int)
    assert isinstance(ir, dict)
    return version, ir


def write_with_function(
    conn: psycopg.Connection[TupleRow],
    session_id: uuid.UUID,
    ir: dict[str, object],
    description: str,
) -> None:
    conn.execute(
        "select public.update_session_ir(%s, %s, null, %s)", (session_id, Jsonb(ir), description)
    )


def write_directly(
    conn: psycopg.Connection[TupleRow],
    session_id: uuid.UUID,
    ir: dict[str, object],
    description: str,
) -> None:
    """A plain UPDATE of current_ir, as PATCH /sessions would send it."""
    conn.execute("select set_config('lift.change_description', %s, true)", (description,))
    conn.execute(
        "update public.sessions set current_ir = %s where id = %s", (Jsonb(ir), session_id)
    )


Writer = Callable[[psycopg.Connection[TupleRow], uuid.UUID, dict[str, object], str], None]


@pytest.mark.parametrize(
    "write", [write_with_function, write_directly], ids=["update_session_ir", "direct_update"]
)
def test_concurrent_writers_get_contiguous_versions(
    url: str, owner: uuid.UUID, write: Writer
) -> None:
    session_id = create_session(url, owner)
    start = threading.Barrier(WRITERS, timeout=BARRIER_TIMEOUT_S)

    def run(writer: int) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            start.wait()
            for n in range(WRITES_PER_WRITER):
                with conn.transaction():
                    act_as(conn, owner)
                    write(conn, session_id, {"writer": writer, "n": n}, f"writer {writer} #{n}")

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        for future in [pool.submit(run, w) for w in range(WRITERS)]:
            future.result()

    versions = history(url, owner, session_id)
    total = 1 + WRITERS * WRITES_PER_WRITER
    assert [v.version for v in versions] == list(range(1, total + 1))
    written = sorted(v.description for v in versions[1:] if v.description is not None)
    expected = sorted(f"writer {w} #{n}" for w in range(WRITERS) for n in range(WRITES_PER_WRITER))
    assert written == expected, "every write is recorded exactly once"
    for v in versions[1:]:
        assert v.description == f"writer {v.ir['writer']} #{v.ir['n']}", "snapshot matches write"
    for w in range(WRITERS):
        order = [v.ir["n"] for v in versions if v.ir["writer"] == w]
        assert order == list(range(WRITES_PER_WRITER)), f"writer {w}'s writes keep their order"
    assert current(url, owner, session_id) == (total, versions[-1].ir)


@dataclass
class Round:
    succeeded: list[int] = field(default_factory=list)
    conflicted: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def test_stale_expected_version_is_refused_and_writes_nothing(url: str, owner: uuid.UUID) -> None:
    """Every writer reads the same version, then all write naming it: one wins, the rest get
    PT409. The barrier between reading and writing makes that outcome certain, not likely."""
    session_id = create_session(url, owner)
    phase = threading.Barrier(WRITERS, timeout=BARRIER_TIMEOUT_S)
    rounds = [Round() for _ in range(ROUNDS)]

    def run(writer: int) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            for r, outcome in enumerate(rounds):
                with conn.transaction():
                    act_as(conn, owner)
                    row = conn.execute(
                        "select ir_version from public.sessions where id = %s", (session_id,)
                    ).fetchone()
                assert row is not None
                read_version = row[0]
                phase.wait()  # everyone has read the same version
                try:
                    with conn.transaction():
                        act_as(conn, owner)
                        conn.execute(
                            "select public.update_session_ir(%s, %s, %s, %s)",
                            (
                                session_id,
                                Jsonb({"writer": writer, "round": r}),
                                read_version,
                                f"round {r} writer {writer}",
                            ),
                        )
                except psycopg.Error as exc:
                    if exc.sqlstate != VERSION_CONFLICT:
                        raise
                    with outcome.lock:
                        outcome.conflicted.append(writer)
                else:
                    with outcome.lock:
                        outcome.succeeded.append(writer)
                phase.wait()  # every write of this round is committed or refused

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        for future in [pool.submit(run, w) for w in range(WRITERS)]:
            future.result()

    for r, outcome in enumerate(rounds):
        assert len(outcome.succeeded) == 1, f"round {r}: exactly one writer wins"
        assert len(outcome.conflicted) == WRITERS - 1, f"round {r}: every other writer gets PT409"

    versions = history(url, owner, session_id)
    assert [v.version for v in versions] == list(range(1, ROUNDS + 2))
    recorded = [v.description for v in versions[1:]]
    winners = [f"round {r} writer {o.succeeded[0]}" for r, o in enumerate(rounds)]
    assert recorded == winners, "only the winning write of each round is in the history"
    assert current(url, owner, session_id) == (ROUNDS + 1, versions[-1].ir)
