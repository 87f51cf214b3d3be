"""The daily roll-ups of public.analytics_events equal the raw aggregate after concurrent inserts,
late events and retention.

Several writers record events for the same two users at once, in multi-row statements whose rows
come in different orders, today and back-dated into months long past (late events, which the
default partition takes). Every figure of public.analytics_daily and of the all-users
public.analytics_daily_totals must then equal the aggregate of the events themselves, and still
after the daily maintenance moves the old months into partitions and drops them (retention).
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from lift_db.local.target import connect
from tests.store.conftest import database_url

WRITERS = 6
STATEMENTS_PER_WRITER = 40
# Long past: retention of 240 months drops these and nothing of the seed's or other tests'.
LATE_MONTHS = (datetime(2003, 1, 1, tzinfo=UTC), datetime(2003, 2, 1, tzinfo=UTC))
RETENTION_MONTHS = 240
TYPES = ("ir_generated", "hole_resolved", "session_finalized", "session_abandoned")
PROMPT_TYPES = ("workflow", "game", None)

DAILY = """
select user_id, day, event_type, prompt_type, events, successes, latency_events, latency_sum_ms
  from public.analytics_daily
 where user_id = any(%(users)s)
"""
RAW_DAILY = """
select e.user_id, (e.created_at at time zone 'UTC')::date, e.event_type,
       coalesce(e.event_data ->> 'prompt_type', 'unspecified'), count(*),
       count(*) filter (where e.event_type = 'session_finalized'), count(e.latency_ms),
       coalesce(sum(e.latency_ms), 0)
  from public.analytics_events as e
 where e.user_id = any(%(users)s)
 group by 1, 2, 3, 4
"""
TOTALS = """
select day, event_type, sum(events), sum(successes), sum(latency_events), sum(latency_sum_ms)
  from public.analytics_daily_totals
 where day = any(%(days)s) and event_type = any(%(types)s)
 group by 1, 2
having sum(events) <> 0
"""
RAW_TOTALS = """
select (e.created_at at time zone 'UTC')::date as day, e.event_type, count(*),
       count(*) filter (where e.event_type = 'session_finalized'), count(e.latency_ms),
       coalesce(sum(e.latency_ms), 0)
  from public.analytics_events as e
 where (e.created_at at time zone 'UTC')::date = any(%(days)s)
   and e.event_type = any(%(types)s)
 group by 1, 2
"""


@pytest.fixture
def users() -> Iterator[list[uuid.UUID]]:
    ids = [uuid.uuid4(), uuid.uuid4()]
    with connect(database_url()) as conn:
        for uid in ids:
            conn.execute(
                "insert into auth.users (id, aud, role, email, created_at)"
                " values (%s, 'authenticated', 'authenticated', %s, now())",
                (uid, f"{uid}@rollups.test"),
            )
    yield ids
    with connect(database_url()) as conn:
        conn.execute("delete from auth.users where id = any(%s)", (ids,))


def _rows(rng: random.Random, users: list[uuid.UUID], now: datetime) -> list[tuple[Any, ...]]:
    rows = []
    for _ in range(rng.randint(1, 6)):
        if rng.random() < 0.3:
            when = rng.choice(LATE_MONTHS) + timedelta(days=rng.randint(0, 27), hours=rng.random())
        else:
            when = now - timedelta(minutes=rng.randint(0, 30))
        prompt = rng.choice(PROMPT_TYPES)
        rows.append(
            (
                rng.choice(users),
                rng.choice(TYPES),
                Jsonb({} if prompt is None else {"prompt_type": prompt}),
                None if rng.random() < 0.2 else rng.randint(0, 5000),
                when,
            )
        )
    return rows


def _writer(users: list[uuid.UUID], seed: int, now: datetime, errors: list[BaseException]) -> None:
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not a secret
    try:
        with connect(database_url()) as conn:
            for _ in range(STATEMENTS_PER_WRITER):
                rows = _rows(rng, users, now)
                values = sql.SQL(", ").join([sql.SQL("(%s, %s, %s, %s, %s)")] * len(rows))
                conn.execute(
                    sql.SQL(
                        "insert into public.analytics_events"
                        " (user_id, event_type, event_data, latency_ms, created_at) values {}"
                    ).format(values),
                    [v for row in rows for v in row],
                )
    except BaseException as exc:  # pragma: no cover - reported by the test
        errors.append(exc)


def _assert_rollups_equal_events(users: list[uuid.UUID], days: list[Any]) -> None:
    with connect(database_url()) as conn:
        params = {"users": users, "days": days, "types": list(TYPES)}
        daily = sorted(conn.execute(DAILY, params).fetchall())
        raw_daily = sorted(conn.execute(RAW_DAILY, params).fetchall())
        totals = sorted(conn.execute(TOTALS, params).fetchall())
        raw_totals = sorted(conn.execute(RAW_TOTALS, params).fetchall())
    assert daily == raw_daily
    assert totals == raw_totals


def test_rollups_equal_the_events_after_concurrent_late_and_expired_events(
    users: list[uuid.UUID],
) -> None:
    now = datetime.now(UTC)
    errors: list[BaseException] = []
    writers = [
        threading.Thread(target=_writer, args=(users, seed, now, errors)) for seed in range(WRITERS)
    ]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    assert errors == []

    with connect(database_url()) as conn:
        days = [
            r[0]
            for r in conn.execute(
                "select distinct (created_at at time zone 'UTC')::date"
                " from public.analytics_events where user_id = any(%s)",
                (users,),
            ).fetchall()
        ]
        late = conn.execute(
            "select count(*) from public.analytics_events"
            " where user_id = any(%s) and created_at < '2004-01-01'",
            (users,),
        ).fetchone()
    assert late is not None
    assert late[0] > 0, "the writers recorded late events"
    assert len(days) > 2
    _assert_rollups_equal_events(users, days)

    with connect(database_url()) as conn:
        conn.execute("select private.maintain_analytics_events_partitions(0)")
    _assert_rollups_equal_events(users, days)

    with connect(database_url()) as conn:
        dropped = conn.execute(
            "select partition_name from private.maintain_analytics_events_partitions(0, %s,"
            " 'drop') where action = 'dropped'",
            (RETENTION_MONTHS,),
        ).fetchall()
        left = conn.execute(
            "select count(*) from public.analytics_daily"
            " where user_id = any(%s) and day < '2004-01-01'",
            (users,),
        ).fetchone()
    assert sorted(r[0] for r in dropped) == [
        "partitions.analytics_events_p2003_01",
        "partitions.analytics_events_p2003_02",
    ]
    assert left == (0,)
    _assert_rollups_equal_events(users, days)
