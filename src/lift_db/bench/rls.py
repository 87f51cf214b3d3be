"""Sections 1 and 2: what Row Level Security costs on the hot paths, and why the policies are
written as they are.

1. Each hot path runs as an authenticated user through RLS, and as service_role (which bypasses
   RLS) running the same statement with the owner check written out. Same sessions, same order,
   interleaved, statements prepared as the store prepares them on a direct connection; the ratio
   is the policies' price.
2. The list query as a PostgREST client sends it (the policy is the only owner filter) against
   copies of public.sessions under other policies: `auth.uid()` called per row instead of once
   (`(select auth.uid())`), and/or no index leading with user_id (the naive one has both
   faults); and the policy migration 20261126092500 replaced, whose shared half is a hashed
   SubPlan filtered row by row. And the history read under the
   deployed policy (EXISTS: the session's own RLS decides) against the policy it replaced
   (`session_id in (select private.readable_session_ids())`), both on copies holding the
   sampled sessions' history.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, LiteralString
from uuid import UUID

from psycopg import sql
from psycopg.types.json import Jsonb

from lift_db.bench.database import BenchDatabase, Conn, one
from lift_db.bench.measure import Summary, ms, paired
from lift_db.bench.progress import Progress
from lift_db.bench.requests import Identity, Query, plan, timed
from lift_db.bench.results import Figure
from lift_db.bench.scale import Repeats
from lift_db.store.postgres import queries as store_queries
from lift_db.store.postgres._base import PREPARE_ON_FIRST_USE

SAMPLE_SESSIONS: LiteralString = """
select id, user_id from public.sessions order by md5(id::text || %s) limit %s
"""

GET_OWNED: LiteralString = """
select id, user_id, prompt, status, current_ir, ir_version, metadata, created_at, updated_at
  from public.sessions
 where id = %s
   and user_id = %s
"""

UPDATE_IR: LiteralString = "update public.sessions set current_ir = %s where id = %s"

UPDATE_IR_OWNED: LiteralString = (
    "update public.sessions set current_ir = %s where id = %s and user_id = %s"
)

HISTORY_OWNED: LiteralString = """
select h.session_id, h.version, h.ir_snapshot, h.change_description, h.created_at
  from public.session_history as h
  join public.sessions as s on s.id = h.session_id
 where h.session_id = %s
   and s.user_id = %s
 order by h.version
"""

# What a PostgREST client sends for `?status=eq.active&order=created_at.desc&limit=20`: no owner
# filter of its own, the policy is the only one.
LIST_BY_POLICY: LiteralString = """
select id, user_id, prompt, status, current_ir, ir_version, metadata, created_at, updated_at
  from {}
 where status = 'active'
 order by created_at desc, id desc
 limit 20
"""


@dataclass(frozen=True)
class Pick:
    session_id: UUID
    user_id: UUID


Params = Callable[[Pick], Any]


@dataclass(frozen=True)
class HotPath:
    name: str
    through_rls: Query
    rls_params: Params
    owned: Query
    owned_params: Params
    # The transaction settings the store gives this statement, on both sides alike.
    settings: dict[str, str] | None = None


def sample(conn: Conn, count: int, salt: str = "lift-bench") -> list[Pick]:
    rows = conn.execute(SAMPLE_SESSIONS, (salt, count)).fetchall()
    return [Pick(session_id=r[0], user_id=r[1]) for r in rows]


def _list_params(p: Pick) -> tuple[UUID, str, int]:
    return (p.user_id, "active", 20)


def hot_paths(ir: dict[str, Any]) -> list[HotPath]:
    payload = Jsonb(ir)
    return [
        HotPath(
            "get a session",
            store_queries.GET_SESSION,
            lambda p: (p.session_id,),
            GET_OWNED,
            lambda p: (p.session_id, p.user_id),
        ),
        HotPath(
            "list active sessions, newest first, page of 20",
            store_queries.LIST_OWN_SESSIONS_BY_STATUS,
            _list_params,
            store_queries.LIST_OWN_SESSIONS_BY_STATUS,
            _list_params,
            dict(store_queries.OWN_LIST_SETTINGS),
        ),
        HotPath(
            "update the IR (writes its history row)",
            UPDATE_IR,
            lambda p: (payload, p.session_id),
            UPDATE_IR_OWNED,
            lambda p: (payload, p.session_id, p.user_id),
        ),
        HotPath(
            "read a session's history",
            store_queries.HISTORY,
            lambda p: (p.session_id,),
            HISTORY_OWNED,
            lambda p: (p.session_id, p.user_id),
        ),
    ]


def sample_ir(conn: Conn) -> dict[str, Any]:
    value: dict[str, Any] = one(conn, "select bench.synthetic_ir(1, 3)")[0]
    return value


def measure_overhead(db: BenchDatabase, repeats: Repeats, progress: Progress) -> list[Figure]:
    figures: list[Figure] = []
    service = Identity.service()
    # One connection per side, each preparing its statements on first use, as the store does on a
    # direct connection (PoolSettings.prepare): a prepared plan holds for one role, so a single
    # connection switching roles every sample would plan both sides every time.
    with db.connect() as conn, db.connect() as service_conn:
        conn.prepare_threshold = service_conn.prepare_threshold = PREPARE_ON_FIRST_USE
        picks = sample(conn, repeats.hot_path + repeats.warmup)
        for path in hot_paths(sample_ir(conn)):

            def subject(p: Pick, path: HotPath = path) -> float:
                who = Identity.user(p.user_id)
                return timed(conn, who, path.through_rls, path.rls_params(p), path.settings)

            def baseline(p: Pick, path: HotPath = path) -> float:
                return timed(service_conn, service, path.owned, path.owned_params(p), path.settings)

            a, b = paired(subject, baseline, picks, warmup=repeats.warmup)
            first = picks[0]
            figures.append(
                Figure(
                    section="rls",
                    name=path.name,
                    unit="ms",
                    subject_label="authenticated, through RLS",
                    subject=Summary.of(ms(a)),
                    baseline_label="service_role, explicit user filter",
                    baseline=Summary.of(ms(b)),
                    note=_overhead_note(a, b),
                    detail={
                        "plan_subject": plan(
                            conn,
                            Identity.user(first.user_id),
                            path.through_rls,
                            path.rls_params(first),
                            path.settings,
                        ),
                        "plan_baseline": plan(
                            service_conn,
                            service,
                            path.owned,
                            path.owned_params(first),
                            path.settings,
                        ),
                    },
                )
            )
            progress.say(f"RLS overhead: {path.name}: {len(a)} pairs")
        figures.append(_measure_floor(service_conn, picks, repeats))
        progress.say("RLS overhead: the owner check alone")
    return figures


# The same get, as service_role (no policy), with the owner check written as the policies write
# it: what evaluating `(select auth.uid())` costs by itself (reading and parsing the claims), the
# floor under every ratio of this section.
GET_OWNED_BY_CALLER: LiteralString = """
select id, user_id, prompt, status, current_ir, ir_version, metadata, created_at, updated_at
  from public.sessions
 where id = %s
   and user_id = (select auth.uid())
"""


def _measure_floor(conn: Conn, picks: list[Pick], repeats: Repeats) -> Figure:
    def subject(p: Pick) -> float:
        claims = Identity.user(p.user_id).claims
        return timed(conn, Identity("service_role", claims), GET_OWNED_BY_CALLER, (p.session_id,))

    def baseline(p: Pick) -> float:
        return timed(conn, Identity.service(), GET_OWNED, (p.session_id, p.user_id))

    a, b = paired(subject, baseline, picks, warmup=repeats.warmup)
    return Figure(
        section="rls",
        name="get a session: the owner check alone, no policy",
        unit="ms",
        subject_label="service_role, user_id = (select auth.uid())",
        subject=Summary.of(ms(a)),
        baseline_label="service_role, explicit user filter",
        baseline=Summary.of(ms(b)),
        note=_overhead_note(a, b).replace("RLS", "the owner check"),
    )


def _overhead_note(subject: list[float], baseline: list[float]) -> str:
    extra = (Summary.of(subject).median - Summary.of(baseline).median) * 1e6
    return f"RLS adds {extra:+.0f} µs per statement"


# -- section 2 -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyVariant:
    table: str
    label: str
    using: LiteralString
    indexed: bool
    requires: str | None = None  # a function the policy calls, when it is not always there
    slow: bool = False  # a scan per sample: measured with the naive repeats


VARIANTS = (
    PolicyVariant(
        "sessions_naive",
        "naive: auth.uid() per row, no user_id index",
        "user_id = auth.uid()",
        indexed=False,
    ),
    PolicyVariant(
        "sessions_unwrapped",
        "auth.uid() per row, with our indexes",
        "user_id = auth.uid()",
        indexed=True,
    ),
    PolicyVariant(
        "sessions_unindexed",
        "(select auth.uid()), no user_id index",
        "user_id = (select auth.uid())",
        indexed=False,
    ),
    # The policy migration 20261126092500 replaced: its shared half, `id in (select …)`, is a
    # hashed SubPlan the planner filters row by row.
    PolicyVariant(
        "sessions_shared_in",
        "before 092500: shared half as id in (select private.shared_session_ids())",
        "user_id = (select auth.uid()) or id in (select private.shared_session_ids())",
        indexed=True,
        requires="private.shared_session_ids(text)",
    ),
)


def available_variants(conn: Conn) -> list[PolicyVariant]:
    out = []
    for variant in VARIANTS:
        if variant.requires is not None:
            row = one(
                conn, "select pg_catalog.to_regprocedure(%s) is not null", (variant.requires,)
            )
            if not row[0]:
                continue
        out.append(variant)
    return out


_COPY: LiteralString = """
create table {table} (like public.sessions including defaults including constraints);
insert into {table} select * from public.sessions;
alter table {table} add primary key (id);
alter table {table} enable row level security;
grant usage on schema bench to authenticated;
grant select on {table} to authenticated;
"""

_INDEXES: LiteralString = """
create index on {table} (user_id, status, created_at desc);
create index on {table} (user_id, created_at desc);
"""

_POLICY: LiteralString = (
    "create policy select_readable on {table} for select to authenticated using "
)


def build_policy_copies(db: BenchDatabase, progress: Progress) -> list[PolicyVariant]:
    with db.connect(admin=True) as conn:
        variants = available_variants(conn)
        for variant in variants:
            table = sql.Identifier("bench", variant.table)
            with conn.transaction():
                conn.execute(sql.SQL("drop table if exists {table}").format(table=table))
                conn.execute(sql.SQL(_COPY).format(table=table))
                if variant.indexed:
                    conn.execute(sql.SQL(_INDEXES).format(table=table))
                conn.execute(sql.SQL(_POLICY).format(table=table) + sql.SQL(f"({variant.using})"))
            conn.execute(sql.SQL("vacuum (analyze) {}").format(table))
            progress.say(f"naive policy: built copy bench.{variant.table}")
    return variants


HISTORY_QUALS: LiteralString = """
select pg_catalog.pg_get_expr(p.polqual, p.polrelid)
  from pg_catalog.pg_policy as p
 where p.polrelid = 'public.session_history'::regclass
   and p.polcmd in ('r', '*')
   and p.polpermissive
"""

_HISTORY_COPY: LiteralString = """
create table {table} (like public.session_history including defaults including constraints)
"""

_HISTORY_FILL: LiteralString = """
insert into {table} select * from public.session_history where session_id = any(%s)
"""

_HISTORY_SECURE: LiteralString = """
alter table {table} add primary key (session_id, version);
alter table {table} enable row level security;
grant select on {table} to authenticated;
"""

HISTORY_QUERY: LiteralString = """
select session_id, version, ir_snapshot, change_description, created_at
  from {}
 where session_id = %s
 order by version
"""

HISTORY_DEPLOYED = "history_as_deployed"
HISTORY_PREVIOUS = "history_previous"
# The history policy before migration 20261126092500.
PREVIOUS_POLICY = "session_id in (select private.readable_session_ids())"


def build_history_copies(db: BenchDatabase, sessions: list[UUID]) -> str:
    """Two copies of the sampled sessions' history: under the deployed select policy, and under
    the one it replaced. Returns the deployed policy's text."""
    with db.connect(admin=True) as conn:
        quals = [str(r[0]) for r in conn.execute(HISTORY_QUALS)]
        deployed = " or ".join(f"({q})" for q in quals) or "false"
        # A qualified reference to the original table must name the copy instead.
        deployed_on_copy = re.sub(r"\bsession_history\.", f"{HISTORY_DEPLOYED}.", deployed)
        copies = ((HISTORY_DEPLOYED, deployed_on_copy), (HISTORY_PREVIOUS, PREVIOUS_POLICY))
        for name, using in copies:
            table = sql.Identifier("bench", name)
            with conn.transaction():
                conn.execute(sql.SQL("drop table if exists {}").format(table))
                conn.execute(sql.SQL(_HISTORY_COPY).format(table=table))
                conn.execute(sql.SQL(_HISTORY_FILL).format(table=table), (sessions,))
                conn.execute(sql.SQL(_HISTORY_SECURE).format(table=table))
                conn.execute(
                    sql.SQL(
                        "create policy select_readable on {} for select to authenticated using ("
                    ).format(table)
                    + sql.SQL(using)  # policy text from the catalog
                    + sql.SQL(")")
                )
            conn.execute(sql.SQL("vacuum (analyze) {}").format(table))
    return deployed


def measure_history_policy(
    db: BenchDatabase, picks: list[Pick], repeats: Repeats, progress: Progress
) -> Figure:
    deployed = build_history_copies(db, [p.session_id for p in picks])
    copy = sql.SQL(HISTORY_QUERY).format(sql.Identifier("bench", HISTORY_DEPLOYED))
    previous = sql.SQL(HISTORY_QUERY).format(sql.Identifier("bench", HISTORY_PREVIOUS))
    with db.connect() as conn:

        def subject(p: Pick) -> float:
            return timed(conn, Identity.user(p.user_id), previous, (p.session_id,))

        def baseline(p: Pick) -> float:
            return timed(conn, Identity.user(p.user_id), copy, (p.session_id,))

        a, b = paired(subject, baseline, picks, warmup=repeats.warmup)
        who, first = Identity.user(picks[0].user_id), (picks[0].session_id,)
        figure = Figure(
            section="naive",
            name="read a session's history (policy as the only owner filter)",
            unit="ms",
            subject_label="before: session_id in (select private.readable_session_ids())",
            subject=Summary.of(ms(a)),
            baseline_label="ours, as deployed",
            baseline=Summary.of(ms(b)),
            note="copies of the sampled sessions' history; ratio > 1: the deployed form is faster",
            detail={
                "policy_baseline": deployed,
                "plan_subject": plan(conn, who, previous, first),
                "plan_baseline": plan(conn, who, copy, first),
            },
        )
    progress.say(f"naive policy: history policy shapes: {len(a)} pairs")
    return figure


def measure_naive(db: BenchDatabase, repeats: Repeats, progress: Progress) -> list[Figure]:
    variants = build_policy_copies(db, progress)
    ours = sql.SQL(LIST_BY_POLICY).format(sql.Identifier("public", "sessions"))
    figures: list[Figure] = []
    with db.connect() as conn:
        picks = sample(conn, repeats.hot_path + repeats.warmup, salt="naive")
        for variant in variants:
            query = sql.SQL(LIST_BY_POLICY).format(sql.Identifier("bench", variant.table))
            count = repeats.naive if variant.slow or not variant.indexed else repeats.hot_path
            inputs = picks[: count + min(repeats.warmup, 3)]

            def subject(p: Pick, query: Query = query) -> float:
                return timed(conn, Identity.user(p.user_id), query)

            def baseline(p: Pick) -> float:
                return timed(conn, Identity.user(p.user_id), ours)

            a, b = paired(subject, baseline, inputs, warmup=min(repeats.warmup, 3))
            who = Identity.user(picks[0].user_id)
            figures.append(
                Figure(
                    section="naive",
                    name="list active sessions (policy as the only owner filter)",
                    unit="ms",
                    subject_label=variant.label,
                    subject=Summary.of(ms(a)),
                    baseline_label="ours, as deployed",
                    baseline=Summary.of(ms(b)),
                    detail={
                        "plan_subject": plan(conn, who, query),
                        "plan_baseline": plan(conn, who, ours),
                    },
                )
            )
            progress.say(f"naive policy: {variant.label}: {len(a)} pairs")
    figures.append(measure_history_policy(db, picks, repeats, progress))
    return figures
