"""Similarity search at a size where RLS filtering and the HNSW index really interact.

3,000 sessions carry clustered 1536-dimensional embeddings (30 clusters, built in SQL from a fixed
seed); one user, the owner, has 1% of them, another user the rest. RLS filters the rows an HNSW
scan produces after the scan, so a plain scan (pgvector's defaults) leaves the owner with almost
nothing. public.match_sessions must still return the requested count and agree with an exact
scan over the same readable rows: recall@10 is measured against one, for the owner (1% readable:
the function's exact path, through the owner_id and session_id indexes) and for service_role
(everything readable: the HNSW index). The crowd user reads more than the exact path's threshold,
so their search runs on the HNSW index too.

Everything runs in one transaction that is rolled back, so the fixture leaves no rows behind.

Vector search is tested at three levels, each owning what the others cannot show:
supabase/tests/5xx_vector_*.sql the SQL (structure, isolation, sharing, exact ranking, staleness,
bad input, on a handful of rows), tests/store/test_search.py the store's API on both stores, and
this file only what needs thousands of rows: the HNSW index under RLS.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg.rows import TupleRow

from lift_db.local.project import find_project
from lift_db.local.target import resolve_target
from tests.conftest import ROOT

SESSIONS = 3_000
OWNED_EVERY = 100  # the owner has 1 session in 100
CLUSTERS = 30
QUERIES = 20
K = 10
NOISE = 0.7  # per-component spread around a cluster centre (centre components ~ N(0, 1))
MIN_RECALL = 0.9

Conn = psycopg.Connection[TupleRow]


@dataclass(frozen=True)
class Fixture:
    conn: Conn
    owner: uuid.UUID
    crowd: uuid.UUID
    queries: list[str]  # query embeddings as vector text


def act_as(conn: Conn, role: str, user_id: uuid.UUID | None = None) -> None:
    """Switch identity for the rest of the transaction, as PostgREST does per request."""
    claims: dict[str, str] = {"role": role}
    if user_id is not None:
        claims["sub"] = str(user_id)
    conn.execute(
        "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)",
        (role, json.dumps(claims)),
    )


@pytest.fixture(scope="module")
def fixture() -> Iterator[Fixture]:
    target = resolve_target(find_project(ROOT))
    # The superuser, where there is one, can also capture the function's own plan (auto_explain).
    conn = target.connect(admin=True, autocommit=False)
    try:
        owner, crowd = uuid.uuid4(), uuid.uuid4()
        conn.execute(
            "insert into auth.users (id, aud, role, email, raw_app_meta_data, created_at)"
            " select u, 'authenticated', 'authenticated', u::text || '@vector.test',"
            ' \'{"provider": "email"}\', now() from unnest(%s::uuid[]) as u',
            ([owner, crowd],),
        )
        conn.execute("select setseed(0.42)")
        # Cluster centres, then each session's embedding: its centre plus Gaussian noise.
        conn.execute(
            "create temporary table centre on commit drop as"
            " select c, d, random_normal() as x"
            "   from generate_series(0, %s - 1) as c, generate_series(1, 1536) as d",
            (CLUSTERS,),
        )
        conn.execute(
            "create temporary table member on commit drop as"
            " select i, gen_random_uuid() as session_id,"
            "        floor(random() * %s)::integer as cluster"
            "   from generate_series(1, %s) as i",
            (CLUSTERS, SESSIONS),
        )
        conn.execute(
            "insert into public.sessions (id, user_id, prompt, current_ir)"
            " select m.session_id, case when m.i %% %s = 0 then %s else %s end,"
            "        'vector fixture ' || m.i, '{\"spec\": \"fixture\"}'"
            "   from member as m",
            (OWNED_EVERY, owner, crowd),
        )
        conn.execute(
            "insert into public.session_embeddings (session_id, embedding, model, ir_version)"
            " select m.session_id,"
            "        array_agg(c.x + %s * random_normal() order by c.d)::extensions.vector,"
            "        'fixture-model', 1"
            "   from member as m join centre as c on c.c = m.cluster"
            "  group by m.session_id",
            (NOISE,),
        )
        conn.execute("analyze public.sessions, public.session_embeddings")
        rows = conn.execute(
            "select array_agg(c.x + %s * random_normal() order by c.d)::extensions.vector::text"
            "  from generate_series(1, %s) as q join centre as c on c.c = q %% %s"
            " group by q order by q",
            (NOISE, QUERIES, CLUSTERS),
        ).fetchall()
        yield Fixture(conn, owner, crowd, [r[0] for r in rows])
    finally:
        conn.rollback()
        # The rolled-back rows stay in the HNSW graph as dead entries that every later search
        # would walk through (and count against hnsw.max_scan_tuples) until a vacuum.
        conn.autocommit = True
        conn.execute("vacuum public.session_embeddings")
        conn.close()


@pytest.fixture
def conn(fixture: Fixture) -> Iterator[Conn]:
    """The fixture's connection; identity and settings a test changes are undone after it."""
    fixture.conn.execute("savepoint vector_test")
    yield fixture.conn
    fixture.conn.execute("rollback to savepoint vector_test")


def search(conn: Conn, query: str, k: int = K) -> list[uuid.UUID]:
    rows = conn.execute(
        "select session_id from public.match_sessions(%s::extensions.vector, %s)", (query, k)
    ).fetchall()
    return [r[0] for r in rows]


def exact(conn: Conn, query: str, k: int = K) -> list[uuid.UUID]:
    """The k nearest readable rows by an exact scan: no index, every distance computed."""
    conn.execute("select set_config('enable_indexscan', 'off', true)")
    rows = conn.execute(
        "select e.session_id from public.session_embeddings as e"
        " order by e.embedding operator(extensions.<=>) %s::extensions.vector, e.session_id"
        " limit %s",
        (query, k),
    ).fetchall()
    conn.execute("select set_config('enable_indexscan', 'on', true)")
    return [r[0] for r in rows]


def recall(found: list[uuid.UUID], truth: list[uuid.UUID]) -> float:
    return len(set(found) & set(truth)) / len(truth)


def apply_function_settings(conn: Conn) -> None:
    """match_sessions' own SET clauses, to plan its query exactly as it runs."""
    conn.execute(
        "select set_config(split_part(s, '=', 1), substr(s, strpos(s, '=') + 1), true)"
        "  from pg_catalog.pg_proc as p, unnest(p.proconfig) as s"
        " where p.oid = 'public.match_sessions(extensions.vector, integer, double precision)'"
        "::regprocedure and s not like 'search_path=%%'"
    )


def plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


def test_the_fixture_reproduces_the_rls_trap(fixture: Fixture, conn: Conn) -> None:
    """With pgvector's defaults, the owner's plain index scan returns far fewer than asked."""
    act_as(conn, "authenticated", fixture.owner)
    # The select policy's index conditions would let the planner sort the owner's 1% instead;
    # without sorting, the order comes from the HNSW index, the scan this test is about.
    conn.execute("select set_config('enable_sort', 'off', true)")
    counts = []
    for query in fixture.queries:
        conn.execute("select set_config('hnsw.iterative_scan', 'off', true)")
        conn.execute("select set_config('hnsw.ef_search', '40', true)")
        rows = conn.execute(
            "select e.session_id from public.session_embeddings as e"
            " order by e.embedding operator(extensions.<=>) %s::extensions.vector limit %s",
            (query, K),
        ).fetchall()
        counts.append(len(rows))
    print(f"\nplain HNSW scan (ef_search 40, no iterative scan), owner with 1%: rows {counts}")
    assert max(counts) < K


def test_owner_with_one_percent_still_gets_the_requested_count(
    fixture: Fixture, conn: Conn
) -> None:
    owned = conn.execute(
        "select count(*) from public.sessions where user_id = %s", (fixture.owner,)
    ).fetchone()
    assert owned == (SESSIONS // OWNED_EVERY,)
    act_as(conn, "authenticated", fixture.owner)
    counts, recalls, exact_order = [], [], 0
    for query in fixture.queries:
        found = search(conn, query)
        truth = exact(conn, query)
        counts.append(len(found))
        recalls.append(recall(found, truth))
        exact_order += found == truth
        readable = conn.execute(
            "select count(*) from public.sessions where id = any(%s) and user_id = %s",
            (found, fixture.owner),
        ).fetchone()
        assert readable == (len(found),), "only the owner's sessions come back"
    mean = sum(recalls) / len(recalls)
    print(
        f"\nowner with 1% of {SESSIONS}: result counts {counts}; recall@{K} vs exact scan: "
        f"mean {mean:.3f}, min {min(recalls):.1f}; identical to the exact scan in "
        f"{exact_order}/{len(recalls)} queries"
    )
    assert counts == [K] * QUERIES
    assert mean >= MIN_RECALL


def test_recall_against_an_exact_scan_when_everything_is_readable(
    fixture: Fixture, conn: Conn
) -> None:
    act_as(conn, "service_role")
    recalls, exact_order = [], 0
    for query in fixture.queries:
        found = search(conn, query)
        truth = exact(conn, query)
        recalls.append(recall(found, truth))
        exact_order += found == truth
    mean = sum(recalls) / len(recalls)
    print(
        f"\nservice_role, all {SESSIONS} readable: recall@{K} vs exact scan: mean {mean:.3f}, "
        f"min {min(recalls):.1f}; identical to the exact scan in {exact_order}/{len(recalls)}"
    )
    assert mean >= MIN_RECALL


def test_results_are_in_exact_similarity_order(fixture: Fixture, conn: Conn) -> None:
    """The relaxed-order scan's candidates are re-sorted: similarities never increase."""
    act_as(conn, "service_role")
    for query in fixture.queries:
        rows = conn.execute(
            "select m.similarity,"
            "       1 - (e.embedding operator(extensions.<=>) %s::extensions.vector)"
            "  from public.match_sessions(%s::extensions.vector, 100) with ordinality as m"
            "  join public.session_embeddings as e using (session_id)"
            " order by m.ordinality",
            (query, query),
        ).fetchall()
        assert len(rows) == 100
        similarities = [r[0] for r in rows]
        assert similarities == sorted(similarities, reverse=True)
        assert all(abs(r[0] - r[1]) < 1e-9 for r in rows)


EXACT_STATEMENT = (
    "explain (format json)"
    " with visible as materialized ("
    "   select e.session_id, e.ir_version,"
    "          e.embedding operator(extensions.<=>) %s::extensions.vector as distance"
    "     from public.session_embeddings as e)"
    " select v.session_id from visible as v order by v.distance, v.session_id limit %s"
)

HNSW_STATEMENT = (
    "explain (format json)"
    " with nearest as materialized ("
    "   select e.session_id, e.ir_version,"
    "          e.embedding operator(extensions.<=>) %s::extensions.vector as distance"
    "     from public.session_embeddings as e"
    "    order by e.embedding operator(extensions.<=>) %s::extensions.vector"
    "    limit %s)"
    " select n.session_id from nearest as n order by n.distance"
)


def index_names(plan: dict[str, Any]) -> set[str]:
    return {str(n["Index Name"]) for n in plan_nodes(plan) if "Index Name" in n}


def test_the_owner_search_is_planned_on_the_owner_and_session_indexes(
    fixture: Fixture, conn: Conn
) -> None:
    """EXPLAIN of the function's exact statement, as the owner: the select policy's conditions
    (the copy of the owner, the sessions shared with the caller) fetch the readable set through
    the (owner_id, session_id) index and the primary key on session_id."""
    act_as(conn, "authenticated", fixture.owner)
    apply_function_settings(conn)
    row = conn.execute(EXACT_STATEMENT, (fixture.queries[0], K)).fetchone()
    assert row is not None
    plan = row[0][0]["Plan"]
    scans = [n for n in plan_nodes(plan) if n.get("Relation Name") == "session_embeddings"]
    assert [n["Node Type"] for n in scans] == ["Bitmap Heap Scan"]
    assert index_names(plan) == {
        "session_embeddings_owner_id_session_id_idx",
        "session_embeddings_pkey",
    }


def test_a_large_readable_set_is_planned_on_the_hnsw_index(fixture: Fixture, conn: Conn) -> None:
    """EXPLAIN of the function's index statement, as the crowd user (99% readable), with the
    sort the function turns off on that path."""
    act_as(conn, "authenticated", fixture.crowd)
    apply_function_settings(conn)
    conn.execute("select set_config('enable_sort', 'off', true)")
    row = conn.execute(HNSW_STATEMENT, (fixture.queries[0], fixture.queries[0], K)).fetchone()
    assert row is not None
    nodes = list(plan_nodes(row[0][0]["Plan"]))
    scans = [n for n in nodes if n.get("Relation Name") == "session_embeddings"]
    assert [(n["Node Type"], n.get("Index Name")) for n in scans] == [
        ("Index Scan", "session_embeddings_embedding_idx")
    ]
    assert "Filter" in scans[0], "RLS filters the index scan's rows"


def function_plans(conn: Conn, user: uuid.UUID, query: str) -> list[dict[str, Any]]:
    """The plans match_sessions' own statements ran with, as `user`, captured by auto_explain
    (needs the superuser)."""
    superuser = conn.execute("select rolsuper from pg_roles where rolname = current_user")
    if superuser.fetchone() != (True,):
        pytest.skip("auto_explain needs a superuser; the local server has one")
    plans: list[str] = []

    def collect(diag: psycopg.errors.Diagnostic) -> None:
        plans.append(diag.message_primary or "")

    conn.add_notice_handler(collect)
    conn.execute("load 'auto_explain'")
    for name, value in [
        ("auto_explain.log_min_duration", "0"),
        ("auto_explain.log_nested_statements", "on"),
        ("auto_explain.log_level", "notice"),
        ("auto_explain.log_format", "json"),
        ("auto_explain.log_analyze", "on"),
    ]:
        conn.execute("select set_config(%s, %s, true)", (name, value))
    act_as(conn, "authenticated", user)
    try:
        found = search(conn, query)
    finally:
        conn.remove_notice_handler(collect)
    assert len(found) == K
    nested = [p for p in plans if "session_embeddings" in p and "match_sessions(" not in p]
    return [json.loads(p.split("\n", 1)[1]) for p in nested]


@pytest.mark.parametrize(
    ("who", "index"),
    [
        ("owner", "session_embeddings_owner_id_session_id_idx"),
        ("crowd", "session_embeddings_embedding_idx"),
    ],
)
def test_the_function_itself_takes_its_path(
    fixture: Fixture, conn: Conn, who: str, index: str
) -> None:
    """The exact path for the owner (30 readable), the HNSW index for the crowd (2,970
    readable), in the plans match_sessions actually executes."""
    plans = function_plans(
        conn, fixture.owner if who == "owner" else fixture.crowd, fixture.queries[0]
    )
    searches = [p for p in plans if "<=>" in p["Query Text"]]
    assert searches, f"no nested plan ranked embeddings: {plans}"
    used = [index_names(p["Plan"]) for p in searches]
    assert all(index in names for names in used), used
    other = (
        "session_embeddings_embedding_idx"
        if who == "owner"
        else "session_embeddings_owner_id_session_id_idx"
    )
    assert not any(other in names for names in used), used


@pytest.mark.parametrize("who", ["owner", "crowd"])
def test_the_path_is_chosen_from_the_indexes_alone(fixture: Fixture, conn: Conn, who: str) -> None:
    """The count that picks the path reads no embedding row for a user who owns few of them: the
    owned embeddings come from the (owner_id, session_id) index, which holds every column the
    select policy reads, and the shares from session_shares' (user_id, session_id) index. For
    the crowd, who owns 99% of the table (2,970 rows), the planner may read the table itself,
    and the count stops past the limit either way."""
    plans = function_plans(
        conn, fixture.owner if who == "owner" else fixture.crowd, fixture.queries[0]
    )
    counts = [
        p
        for p in plans
        if "<=>" not in p["Query Text"]
        and any(n.get("Relation Name") == "session_embeddings" for n in plan_nodes(p["Plan"]))
    ]
    assert len(counts) == 1, [p["Query Text"] for p in counts]
    nodes = list(plan_nodes(counts[0]["Plan"]))
    owned = [n for n in nodes if n.get("Relation Name") == "session_embeddings"]
    assert len(owned) == 1
    if who == "owner":
        assert (owned[0]["Node Type"], owned[0]["Index Name"]) == (
            "Index Only Scan",
            "session_embeddings_owner_id_session_id_idx",
        )
    shared = [n for n in nodes if n.get("Relation Name") == "session_shares"]
    assert shared, "the shares are counted"
    assert "Seq Scan" not in {n["Node Type"] for n in shared}, "through the (user_id, …) index"
    assert owned[0]["Actual Rows"] == (30 if who == "owner" else 1001)


def test_shares_of_empty_sessions_change_the_path_not_what_is_found(
    fixture: Fixture, conn: Conn
) -> None:
    """An attacker who shares 1,001 sessions without embeddings with the owner pushes the
    owner's count past the limit (shares count toward it), so the owner's search takes the
    index path. That is all it can do: every row found is still one the owner may read, and
    none of the attacker's 2,970 embeddings, shared or not, turns up."""
    conn.execute(
        "insert into public.sessions (id, user_id, prompt, current_ir)"
        " select gen_random_uuid(), %s, 'empty ' || n, '{\"spec\": \"empty\"}'"
        "   from generate_series(1, 1001) as n",
        (fixture.crowd,),
    )
    conn.execute(
        "insert into public.session_shares (session_id, user_id, role)"
        " select s.id, %s, 'viewer' from public.sessions as s"
        "  where s.user_id = %s and s.prompt like 'empty %%'",
        (fixture.owner, fixture.crowd),
    )
    plans = function_plans(conn, fixture.owner, fixture.queries[0])
    searches = [p for p in plans if "<=>" in p["Query Text"]]
    assert [index_names(p["Plan"]) & {"session_embeddings_embedding_idx"} for p in searches] == [
        {"session_embeddings_embedding_idx"}
    ], "the shares moved the owner to the index path"
    owned = {
        r[0]
        for r in conn.execute(
            "select s.id from public.sessions as s where s.user_id = %s", (fixture.owner,)
        )
    }
    for query in fixture.queries[:5]:
        found = search(conn, query)
        assert found, "the index path still answers"
        assert set(found) <= owned, "only the owner's own embeddings are readable"
