"""Creating a month's partition while events of that month keep arriving loses and refuses none.

Writers insert events into a month that has no partition (so they land in the default partition)
while the month's partition is created, which moves that month's rows out of the default
partition. Every insert must succeed, every row must end up in the new partition exactly once,
and none may be left behind in the default partition.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
from psycopg.types.json import Jsonb

from lift_db.local.target import connect
from tests.store.conftest import database_url

MONTH = "2095-01-01"
PARTITION = "partitions.analytics_events_p2095_01"
WRITERS = 4
ROWS_PER_WRITER = 150


@pytest.fixture
def event_user() -> Iterator[uuid.UUID]:
    uid = uuid.uuid4()
    with connect(database_url()) as conn:
        conn.execute(
            "insert into auth.users (id, aud, role, email, created_at)"
            " values (%s, 'authenticated', 'authenticated', %s, now())",
            (uid, f"{uid}@partitions.test"),
        )
    yield uid
    with connect(database_url()) as conn:
        conn.execute(f"drop table if exists {PARTITION}")
        conn.execute("delete from auth.users where id = %s", (uid,))


def _writer(uid: uuid.UUID, worker: int, errors: list[BaseException]) -> None:
    try:
        with connect(database_url()) as conn:
            for n in range(ROWS_PER_WRITER):
                conn.execute(
                    "insert into public.analytics_events (user_id, event_type, event_data,"
                    " created_at) values (%s, 'concurrency_probe', %s,"
                    " %s::timestamptz + make_interval(secs => %s))",
                    (uid, Jsonb({"w": worker, "n": n}), MONTH, n),
                )
    except BaseException as exc:  # pragma: no cover - reported by the test
        errors.append(exc)


def test_partition_creation_under_concurrent_inserts(event_user: uuid.UUID) -> None:
    with connect(database_url()) as conn:
        conn.execute(
            "insert into public.analytics_events (user_id, event_type, created_at)"
            " values (%s, 'concurrency_probe', %s)",
            (event_user, MONTH),
        )
    errors: list[BaseException] = []
    writers = [
        threading.Thread(target=_writer, args=(event_user, w, errors)) for w in range(WRITERS)
    ]
    for t in writers:
        t.start()
    with connect(database_url()) as conn:
        conn.execute("select private.create_analytics_events_partition(%s)", (MONTH,))
    for t in writers:
        t.join()

    assert errors == []
    with connect(database_url()) as conn:
        rows = conn.execute(
            "select tableoid::regclass::text, count(*), count(distinct event_data)"
            " from public.analytics_events where user_id = %s group by 1",
            (event_user,),
        ).fetchall()
    total = 1 + WRITERS * ROWS_PER_WRITER
    assert rows == [(PARTITION, total, WRITERS * ROWS_PER_WRITER + 1)]
