"""Sections 1 and 2: what Row Level Security costs on the hot paths, and why the policies are
written as they are.

1. Each hot path runs as an authenticated user through RLS, and as service_role (which bypasses
   RLS) running the same statement with the owner check written out. Same sessions, same order,
   interleaved; the ratio is the policies' price.
2. The list query as a PostgREST client sends it (the policy is the only owner filter) against
   copies of public.sessions under worse policies: `auth.uid()` called per row instead of once
   (`(select auth.uid())`), and/or no index leading with user_id. The naive one has both faults.
   And the history read under the deployed history policy against the same rows under a
   correlated EXISTS policy (the session's own RLS decides), both on copies holding the sampled
   sessions' history: the cost measured is the policy's, which reads public.sessions in full.
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
from lift_db.bench.results import Figure, Goal
from lift_db.bench.scale import Repeats
from lift_db.store.postgres import queries as store_queries

RLS_GOAL = Goal("ratio ≤ 1.10", "ratio", "<=", 1.10)

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


def sample(conn: Conn, count: int, salt: str = "lift-bench") -> list[Pick]:
    rows = conn.execute(SAMPLE_SESSIONS, (salt, count)).fetchall()
    return [Pick(session_id=r[0], user_id=r[1]) for r in rows]


def _list_params(p: Pick) -> dict[str, Any]:
    return {"user_id": p.user_id, "status": "active", "limit": 20}


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
            store_queries.LIST_SESSIONS,
            _list_params,
            store_queries.LIST_SESSIONS,
            _list_params,
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
    with db.connect() as conn:
        picks = sample(conn, repeats.hot_path + repeats.warmup)
        for path in hot_paths(sample_ir(conn)):

            def subject(p: Pick, path: HotPath = path) -> float:
                return timed(conn, Identity.user(p.user_id), path.through_rls, path.rls_params(p))

            def baseline(p: Pick, path: HotPath = path) -> float:
                return timed(conn, service, path.owned, path.owned_params(p))

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
                    goal=RLS_GOAL,
                    note=_overhead_note(a, b),
                    detail={
                        "plan_subject": plan(
                            conn,
                            Identity.user(first.user_id),
                            path.through_rls,
                            path.rls_params(first),
                        ),
                        "plan_baseline": plan(conn, service, path.owned, path.owned_params(first)),
                    },
                )
            )
            progress.say(f"RLS overhead: {path.name}: {len(a)} pairs")
    return figures


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
    # The shared half of the deployed policy as one array, computed once (an InitPlan): both
    # halves stay indexable, where `or id in (select …)` makes the planner filter row by row.
    PolicyVariant(
        "sessions_shared_any",
        "owner or shared, shared half as = any (array(select …)), with our indexes",
        "user_id = (select auth.uid()) or id = any (array(select private.shared_session_ids()))",
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
HISTORY_EXISTS = "history_exists"
EXISTS_POLICY = "exists (select 1 from public.sessions as s where s.id = history_exists.session_id)"


def build_history_copies(db: BenchDatabase, sessions: list[UUID]) -> str:
    """Two copies of the sampled sessions' history: under the deployed select policy, and under
    a correlated EXISTS. Returns the deployed policy's text."""
    with db.connect(admin=True) as conn:
        quals = [str(r[0]) for r in conn.execute(HISTORY_QUALS)]
        deployed = " or ".join(f"({q})" for q in quals) or "false"
        # A qualified reference to the original table must name the copy instead.
        deployed_on_copy = re.sub(r"\bsession_history\.", f"{HISTORY_DEPLOYED}.", deployed)
        exists = EXISTS_POLICY
        for name, using in ((HISTORY_DEPLOYED, deployed_on_copy), (HISTORY_EXISTS, exists)):
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
    exists = sql.SQL(HISTORY_QUERY).format(sql.Identifier("bench", HISTORY_EXISTS))
    with db.connect() as conn:

        def subject(p: Pick) -> float:
            return timed(conn, Identity.user(p.user_id), exists, (p.session_id,))

        def baseline(p: Pick) -> float:
            return timed(conn, Identity.user(p.user_id), copy, (p.session_id,))

        a, b = paired(subject, baseline, picks, warmup=repeats.warmup)
        who, first = Identity.user(picks[0].user_id), (picks[0].session_id,)
        figure = Figure(
            section="naive",
            name="read a session's history (policy as the only owner filter)",
            unit="ms",
            subject_label="exists (that session, under its own RLS)",
            subject=Summary.of(ms(a)),
            baseline_label="ours, as deployed",
            baseline=Summary.of(ms(b)),
            note="copies of the sampled sessions' history; ratio < 1: the EXISTS form is faster",
            detail={
                "policy_baseline": deployed,
                "plan_subject": plan(conn, who, exists, first),
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
            count = repeats.naive if not variant.indexed else repeats.hot_path
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
