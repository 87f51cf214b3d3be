"""Section 4: analytics events, partitioned by month (public.analytics_events) against the same
rows in one unpartitioned copy with the same indexes and the same select policy.

Events [1,000,000 at the default scale] belong to random sessions (so their owners follow the
sessions' power law) and fall in the 14 days after their session was created; types are
prompt_submitted 30%, ir_generated 30%, hole_resolved 20%, assist_shown 12%,
session_finalized 5%, session_abandoned 3%; latency_ms is log-normal (median 800 ms).

Figures:
- a user's 30-day aggregate (count, mean and p95 latency by event type) through RLS;
- the same 30 days across every user, as service_role (a dashboard);
- retention: removing the oldest month, by dropping its partition against a DELETE on the copy
  (each run rolled back, so every run removes the same month);
- dashboards from the daily roll-ups (public.analytics_daily through RLS, and
  public.analytics_daily_totals for every user) against the same figures aggregated from the
  events: events, successes, events with a latency and their latency sum, by event type over the
  last 30 days; the note says whether every number is identical.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any, LiteralString

from psycopg import sql

from lift_db.bench.database import BenchDatabase, Conn, Features, one
from lift_db.bench.datagen import ANCHOR, chunks
from lift_db.bench.measure import Summary, clock, ms, paired
from lift_db.bench.progress import Progress
from lift_db.bench.requests import Identity, fetch, plan, timed
from lift_db.bench.results import Figure, Goal
from lift_db.bench.rls import sample
from lift_db.bench.scale import Repeats, Scale
from lift_db.errors import LiftDbError

TABLE = "analytics_events"
CREATE_PARTITION = "private.create_analytics_events_partition"
FLAT = sql.Identifier("bench", "analytics_events_flat")
PARTITIONED = sql.Identifier("public", "analytics_events")
WINDOW_DAYS = 30

PARTITIONS: LiteralString = """
select p.partition_name, p.range_from, p.range_to
  from private.analytics_events_partitions() as p
 order by p.range_from
"""

OLDEST_FILLED_PARTITION: LiteralString = """
select p.partition_name, p.range_from, p.range_to
  from private.analytics_events_partitions() as p
 where exists (select from public.analytics_events as e
                where e.created_at >= p.range_from and e.created_at < p.range_to)
 order by p.range_from
 limit 1
"""

EVENTS: LiteralString = """
insert into public.analytics_events (id, session_id, user_id, event_type, event_data, latency_ms,
                                     created_at)
select md5('lift-bench-event-' || j)::uuid, bench.session_uuid(x.i),
       bench.user_uuid(bench.owner_of(x.i, %(users)s)),
       case when bench.u(j, 35) < 0.30 then 'prompt_submitted'
            when bench.u(j, 35) < 0.60 then 'ir_generated'
            when bench.u(j, 35) < 0.80 then 'hole_resolved'
            when bench.u(j, 35) < 0.92 then 'assist_shown'
            when bench.u(j, 35) < 0.97 then 'session_finalized'
            else 'session_abandoned' end,
       jsonb_build_object(
         'prompt_type', (array['crud_app', 'workflow', 'dashboard', 'integration', 'game',
                               'automation', 'data_pipeline', 'landing_page'])
                        [1 + (x.i %% 8)::integer],
         'client', 'web'),
       round(exp(ln(800) + 0.8 * sqrt(-2 * ln(1 - bench.u(j, 33)))
                 * cos(2 * pi() * bench.u(j, 34))))::integer,
       least(bench.created_of(x.i, %(anchor)s) + interval '14 days' * bench.u(j, 32),
             %(anchor)s - interval '1 second')
  from generate_series(%(lo)s::bigint, %(hi)s::bigint) as j,
       lateral (select 1 + floor(%(sessions)s * bench.u(j, 31))::bigint as i) as x
"""

INDEXES: LiteralString = """
select pg_catalog.pg_get_indexdef(i.indexrelid)
  from pg_catalog.pg_index as i
 where i.indrelid = 'public.analytics_events'::regclass
"""

SELECT_POLICIES: LiteralString = """
select pg_catalog.pg_get_expr(p.polqual, p.polrelid)
  from pg_catalog.pg_policy as p
 where p.polrelid = 'public.analytics_events'::regclass
   and p.polcmd in ('r', '*')
"""

USER_WINDOW: LiteralString = """
select event_type, count(*), avg(latency_ms)::float8,
       percentile_cont(0.95) within group (order by latency_ms)
  from {}
 where user_id = %(user_id)s
   and created_at >= %(since)s and created_at < %(until)s
 group by event_type
 order by event_type
"""

ALL_WINDOW: LiteralString = """
select event_type, count(*), avg(latency_ms)::float8,
       percentile_cont(0.95) within group (order by latency_ms)
  from {}
 where created_at >= %(since)s and created_at < %(until)s
 group by event_type
 order by event_type
"""


ROLLUPS = "public.analytics_daily_totals"
REBUILD_ROLLUPS = "private.rebuild_analytics_rollups"
DASHBOARD_GOAL = Goal("median ≤ 5 ms", "subject", "<=", 5.0)

# The dashboard's figures, from the roll-up and from the events. Days are UTC days, and the
# window's bounds are UTC midnights, so both cover the same events.
ROLLUP_ALL: LiteralString = """
select event_type, sum(events)::bigint, sum(successes)::bigint, sum(latency_events)::bigint,
       sum(latency_sum_ms)::bigint
  from public.analytics_daily_totals
 where day >= (%(since)s::timestamptz at time zone 'UTC')::date
   and day < (%(until)s::timestamptz at time zone 'UTC')::date
 group by event_type
having sum(events) <> 0
 order by event_type
"""

ROLLUP_USER: LiteralString = """
select event_type, sum(events)::bigint, sum(successes)::bigint, sum(latency_events)::bigint,
       sum(latency_sum_ms)::bigint
  from public.analytics_daily
 where user_id = %(user_id)s
   and day >= (%(since)s::timestamptz at time zone 'UTC')::date
   and day < (%(until)s::timestamptz at time zone 'UTC')::date
 group by event_type
 order by event_type
"""

RAW_ALL: LiteralString = """
select event_type, count(*), count(*) filter (where event_type = 'session_finalized'),
       count(latency_ms), coalesce(sum(latency_ms), 0)
  from public.analytics_events
 where created_at >= %(since)s and created_at < %(until)s
 group by event_type
 order by event_type
"""

RAW_USER: LiteralString = """
select event_type, count(*), count(*) filter (where event_type = 'session_finalized'),
       count(latency_ms), coalesce(sum(latency_ms), 0)
  from public.analytics_events
 where user_id = %(user_id)s
   and created_at >= %(since)s and created_at < %(until)s
 group by event_type
 order by event_type
"""


def missing(features: Features) -> str | None:
    if TABLE not in features.partitioned_tables:
        return (
            "no partitioned public.analytics_events in the schema: partitioned analytics has "
            "not landed on this branch"
        )
    if not features.has_function(CREATE_PARTITION):
        return f"public.analytics_events exists but {CREATE_PARTITION}(date) does not"
    return None


def _months(first: date, last: date) -> list[date]:
    months = []
    month = first.replace(day=1)
    while month <= last:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def _ensure_partitions(conn: Conn) -> int:
    have = {row[1].date() for row in conn.execute(PARTITIONS)}
    created = 0
    for month in _months((ANCHOR - timedelta(days=365)).date(), ANCHOR.date()):
        if month not in have:
            conn.execute(
                sql.SQL("select {}(%s)").format(sql.Identifier(*CREATE_PARTITION.split("."))),
                (month,),
            )
            created += 1
    return created


def _flat_copy(conn: Conn) -> None:
    """The same rows, indexes and select policy in one plain table."""
    index_defs = [str(r[0]) for r in conn.execute(INDEXES)]
    quals = [str(r[0]) for r in conn.execute(SELECT_POLICIES)]
    with conn.transaction():
        conn.execute(sql.SQL("drop table if exists {}").format(FLAT))
        conn.execute(
            sql.SQL(
                "create table {} (like public.analytics_events including defaults "
                "including constraints)"
            ).format(FLAT)
        )
        conn.execute(sql.SQL("insert into {} select * from public.analytics_events").format(FLAT))
        for definition in index_defs:
            # `create [unique] index name on [only] public.analytics_events using …`
            body = re.sub(
                r"^CREATE (UNIQUE )?INDEX \S+ ON (ONLY )?public\.analytics_events ",
                r"CREATE \1INDEX ON bench.analytics_events_flat ",
                definition,
            )
            conn.execute(body.encode())
        conn.execute(sql.SQL("alter table {} enable row level security").format(FLAT))
        for n, qual in enumerate(quals):
            conn.execute(
                sql.SQL("create policy {} on {} for select to authenticated using (").format(
                    sql.Identifier(f"select_{n}"), FLAT
                )
                + sql.SQL(qual)  # the parent's own policy text, read from the catalog
                + sql.SQL(")")
            )
        conn.execute(sql.SQL("grant select on {} to authenticated, service_role").format(FLAT))
    conn.execute(sql.SQL("vacuum (analyze) {}").format(FLAT))


def generate(db: BenchDatabase, scale: Scale, progress: Progress) -> dict[str, Any]:
    params: dict[str, Any] = {"users": scale.users, "sessions": scale.sessions, "anchor": ANCHOR}
    with db.connect(admin=True) as conn:
        created = _ensure_partitions(conn)
        progress.say(f"analytics: created {created} monthly partitions")
        conn.execute("set session_replication_role = replica")
        for lo, hi in chunks(scale.events):
            with conn.transaction():
                conn.execute(EVENTS, {**params, "lo": lo, "hi": hi})
            progress.step("analytics events", hi, scale.events)
        conn.execute("reset session_replication_role")
        conn.execute("vacuum (analyze) public.analytics_events")
        # The load ran with triggers off: the roll-ups are computed from the events once, as
        # the migration does for events recorded before it.
        if _has_rollups(conn):
            t = clock()
            conn.execute("select private.rebuild_analytics_rollups('-infinity', 'infinity')")
            conn.execute("vacuum (analyze) public.analytics_daily, public.analytics_daily_totals")
            progress.say(f"analytics: daily roll-ups built in {clock() - t:.1f} s")
        t = clock()
        _flat_copy(conn)
        progress.say(f"analytics: unpartitioned copy built in {clock() - t:.1f} s")
        row = conn.execute(
            "select count(*), (select count(*) from private.analytics_events_partitions())"
            " from public.analytics_events"
        ).fetchone()
    if row is None:
        raise LiftDbError("analytics events could not be counted")
    return {"analytics_events": int(row[0]), "analytics_partitions": int(row[1])}


def measure(db: BenchDatabase, repeats: Repeats, progress: Progress) -> list[Figure]:
    window = {"since": ANCHOR - timedelta(days=WINDOW_DAYS), "until": ANCHOR}
    service = Identity.service()
    figures: list[Figure] = []
    with db.connect() as conn:
        picks = sample(conn, repeats.analytics + repeats.warmup, salt="analytics")
        warm = min(repeats.warmup, 3)
        for label, template, as_user in (
            ("a user's last 30 days by event type (RLS)", USER_WINDOW, True),
            ("last 30 days by event type, every user (service_role)", ALL_WINDOW, False),
        ):
            part = sql.SQL(template).format(PARTITIONED)
            flat = sql.SQL(template).format(FLAT)

            def who(uid: Any, as_user: bool = as_user) -> Identity:
                return Identity.user(uid) if as_user else service

            def subject(p: Any, q: sql.Composed = part) -> float:
                return timed(conn, who(p.user_id), q, {**window, "user_id": p.user_id})

            def baseline(p: Any, q: sql.Composed = flat) -> float:
                return timed(conn, who(p.user_id), q, {**window, "user_id": p.user_id})

            a, b = paired(subject, baseline, picks, warmup=warm)
            first = {**window, "user_id": picks[0].user_id}
            figures.append(
                Figure(
                    section="analytics",
                    name=label,
                    unit="ms",
                    subject_label="partitioned by month",
                    subject=Summary.of(ms(a)),
                    baseline_label="one unpartitioned table",
                    baseline=Summary.of(ms(b)),
                    detail={
                        "plan_subject": plan(conn, who(picks[0].user_id), part, first),
                        "plan_baseline": plan(conn, who(picks[0].user_id), flat, first),
                    },
                )
            )
            progress.say(f"analytics: {label}: {len(a)} pairs")
        if _has_rollups(conn):
            figures.extend(_dashboards(conn, picks, window, warm, progress))
    figures.append(_retention(db, max(3, repeats.analytics // 6), progress))
    return figures


def _has_rollups(conn: Conn) -> bool:
    row = one(conn, "select to_regclass(%s) is not null", (ROLLUPS,))
    return bool(row[0])


def _dashboards(
    conn: Conn, picks: list[Any], window: dict[str, Any], warm: int, progress: Progress
) -> list[Figure]:
    service = Identity.service()
    figures: list[Figure] = []
    # The all-users dashboard is the target; a user's own was already served by the
    # (user_id, created_at) index and is shown for comparison.
    for label, rolled, raw, as_user, goal in (
        ("dashboard: a user's last 30 days by event type (RLS)", ROLLUP_USER, RAW_USER, True, None),
        (
            "dashboard: last 30 days by event type, all users",
            ROLLUP_ALL,
            RAW_ALL,
            False,
            DASHBOARD_GOAL,
        ),
    ):

        def who(uid: Any, as_user: bool = as_user) -> Identity:
            return Identity.user(uid) if as_user else service

        def subject(p: Any, q: LiteralString = rolled) -> float:
            return timed(conn, who(p.user_id), q, {**window, "user_id": p.user_id})

        def baseline(p: Any, q: LiteralString = raw) -> float:
            return timed(conn, who(p.user_id), q, {**window, "user_id": p.user_id})

        a, b = paired(subject, baseline, picks, warmup=warm)
        differ = 0
        checked = picks if as_user else picks[:1]
        for p in checked:
            params = {**window, "user_id": p.user_id}
            if fetch(conn, who(p.user_id), rolled, params) != fetch(
                conn, who(p.user_id), raw, params
            ):
                differ += 1
        first = {**window, "user_id": picks[0].user_id}
        figures.append(
            Figure(
                section="analytics",
                name=label,
                unit="ms",
                subject_label="daily roll-up",
                subject=Summary.of(ms(a)),
                baseline_label="aggregate of the events",
                baseline=Summary.of(ms(b)),
                goal=goal,
                note=(
                    "numbers identical to the events' aggregate"
                    if differ == 0
                    else f"numbers DIFFER from the events' aggregate ({differ} of {len(checked)})"
                ),
                detail={
                    "identical": differ == 0,
                    "plan_subject": plan(conn, who(picks[0].user_id), rolled, first),
                    "plan_baseline": plan(conn, who(picks[0].user_id), raw, first),
                },
            )
        )
        progress.say(f"analytics: {label}: {len(a)} pairs, identical: {differ == 0}")
    return figures


def _retention(db: BenchDatabase, runs: int, progress: Progress) -> Figure:
    """Remove the oldest month both ways, each run rolled back so the next removes it again.
    As the local superuser: the copy is the benchmark's, the partitions the migrations'."""
    with db.connect(admin=True) as conn:
        row = one(conn, OLDEST_FILLED_PARTITION)
        name, since, until = str(row[0]), row[1], row[2]
        count_row = conn.execute(
            "select count(*) from public.analytics_events where created_at >= %s"
            " and created_at < %s",
            (since, until),
        ).fetchone()
        rows = int(count_row[0]) if count_row else 0
        schema, table = name.split(".", 1)
        drop = sql.SQL("alter table public.analytics_events detach partition {}; drop table {}")
        drop_q = drop.format(sql.Identifier(schema, table), sql.Identifier(schema, table))
        delete_q = sql.SQL("delete from {} where created_at >= %s and created_at < %s").format(FLAT)

        def rolled_back(query: sql.Composed, params: Any = None) -> float:
            conn.execute("begin")
            try:
                start = clock()
                conn.execute(query, params)
                return clock() - start
            finally:
                conn.execute("rollback")

        a, b = paired(
            lambda _: rolled_back(drop_q),
            lambda _: rolled_back(delete_q, (since, until)),
            list(range(runs)),
        )
    progress.say(f"analytics: retention, {runs} runs per side")
    return Figure(
        section="analytics",
        name="retention: remove the oldest month",
        unit="ms",
        subject_label="detach and drop its partition",
        subject=Summary.of(ms(a)),
        baseline_label="DELETE from the unpartitioned table",
        baseline=Summary.of(ms(b)),
        note=f"{rows:,} events; DELETE also leaves them dead for VACUUM, dropping does not",
        detail={"partition": name, "rows": rows},
    )
