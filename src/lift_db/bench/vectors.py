"""Section 3: vector search over IR embeddings (public.session_embeddings, public.match_sessions).

Synthetic embeddings, shaped like text embeddings rather than uniform noise:
- every vector shares a common direction (real embedding spaces are anisotropic: unrelated texts
  still have cosine similarity around 0.2),
- topics (one per 300 embeddings, sizes following a power law) each split into 8 subtopics,
- a point is its subtopic's centre plus isotropic Gaussian noise whose size varies by topic,
- and everything is L2-normalised, as embedding APIs return it.
Expected cosine similarity: ~0.85 within a subtopic, ~0.7 within a topic, ~0.2 across topics.
Query vectors are drawn the same way (new points, not rows of the table). Values come from
PostgreSQL's random_normal() after setseed(), so a run at a given scale is reproducible.

Figures:
- recall@10 of the HNSW index against an exact scan (index scans off) over the whole table, at
  hnsw.ef_search 40, 100 and 200, with the latency of each against the exact scan's;
- the selective case: a user owning about 1% of the embeddings searches through RLS, with
  iterative index scans off and on (rows returned, recall against the exact scan of what that
  user can read), and through public.match_sessions, the app's entry point (exact path);
- the same user's search through public.match_sessions with the query at the centre of the
  largest cluster of other users' embeddings, against a query in empty space (the antipode of
  the embeddings' common direction): others' data must not shape the caller's latency;
- the exact path's threshold: a caller reading N embeddings (N rows given to a probe user),
  ranked exactly (public.match_sessions' exact statement) against the HNSW iterative scan.
"""

from __future__ import annotations

from typing import Any, LiteralString
from uuid import UUID

from lift_db.bench.database import BenchDatabase, Conn, Features, one
from lift_db.bench.datagen import ANCHOR, chunks
from lift_db.bench.measure import Summary, clock, ms, paired
from lift_db.bench.progress import Progress
from lift_db.bench.requests import Identity, plan, timed_fetch
from lift_db.bench.results import Figure, Goal
from lift_db.bench.scale import Repeats, Scale

TABLE = "session_embeddings"
MATCH = "public.match_sessions"
K = 10
EF_SEARCH = (40, 100, 200)
PER_TOPIC = 300
SUBTOPICS = 8
MODEL = "text-embedding-3-small"
SEED = 0.42
# Query vectors: points drawn like the table's, from row numbers no session has.
QUERY_IDS = 1_000_000_001
QUERY_COUNT = 500

RECALL_GOAL = Goal("recall@10 ≥ 0.95", "metric", ">=", 0.95)
EXACT_MEDIAN_GOAL = Goal("median ≤ 2 ms", "subject", "<=", 2.0)
NEIGHBOURHOOD_GOAL = Goal("≤ 1.2x (others' data does not shape latency)", "ratio", "<=", 1.2)
# Readable set sizes at which the exact statement is timed against the HNSW iterative scan.
THRESHOLD_SIZES = (250, 500, 1000, 2000, 4000)
PROBE_USER = "00000000-0000-4000-8000-00000000b0b0"
FULL_COUNT_GOAL = Goal(f"returns all {K} rows", "metric", ">=", K)

TOPICS: tuple[LiteralString, ...] = (
    "drop table if exists bench.vector_topics, bench.vector_subtopics, bench.vector_queries",
    """
create table bench.vector_topics as
select t, (select array_agg(0.6 * g.x[k] + random_normal(0, 1 / sqrt(%(dims)s)) order by k)
             from generate_series(1, %(dims)s) as k where t > 0) as centre,
       0.35 + 0.3 * random() as noise
  from generate_series(1, %(topics)s) as t,
       (select array_agg(random_normal(0, 1 / sqrt(%(dims)s))) as x
          from generate_series(1, %(dims)s)) as g
""",
    """
create table bench.vector_subtopics as
select t.t, s,
       (select array_agg(t.centre[k] + random_normal(0, 0.5 / sqrt(%(dims)s)) order by k)
          from generate_series(1, %(dims)s) as k where s > 0)::extensions.vector as centre,
       t.noise
  from bench.vector_topics as t, generate_series(1, %(subtopics)s) as s
""",
    "create index on bench.vector_subtopics (t, s)",
)

# Power-law topic sizes (topic 1 the largest), uniform subtopics within a topic.
POINTS: LiteralString = """
select {id_expr}, extensions.l2_normalize(
         st.centre operator(extensions.+)
         (select array_agg(random_normal(0, st.noise / sqrt(%(dims)s)) order by k)
            from generate_series(1, %(dims)s) as k where i > 0)::extensions.vector){extra}
  from generate_series(%(lo)s::bigint, %(hi)s::bigint) as i
  join bench.vector_subtopics as st
    on st.t = 1 + least(%(topics)s - 1, floor(%(topics)s * power(bench.u(i, 21), 1.4))::integer)
   and st.s = 1 + floor(%(subtopics)s * bench.u(i, 22))::integer
"""

INSERT_EMBEDDINGS: LiteralString = (
    "insert into public.session_embeddings "
    "(session_id, embedding, model, ir_version, created_at, updated_at) "
)

# The owner each embedding row carries for the exact path (a trigger keeps it; the bulk load
# runs with triggers off, so it copies it itself).
HAS_OWNER: LiteralString = """
select exists (select from pg_catalog.pg_attribute
                where attrelid = 'public.session_embeddings'::regclass and attname = 'owner_id'
                  and not attisdropped)
"""

HNSW_INDEXES: LiteralString = """
select i.indexrelid::regclass::text, pg_catalog.pg_get_indexdef(i.indexrelid)
  from pg_catalog.pg_index as i
  join pg_catalog.pg_class as c on c.oid = i.indexrelid
  join pg_catalog.pg_am as am on am.oid = c.relam
 where i.indrelid = 'public.session_embeddings'::regclass
   and am.amname = 'hnsw'
"""

NEAREST: LiteralString = """
select e.session_id
  from public.session_embeddings as e
 order by e.embedding operator(extensions.<=>) %s::extensions.vector
 limit 10
"""

MATCH_SESSIONS: LiteralString = (
    "select session_id from public.match_sessions(%s::extensions.vector, 10, -1)"
)

# The user whose share of the embeddings is closest to 1%.
SELECTIVE_USER: LiteralString = """
select s.user_id, count(*)::float8 / (select count(*) from public.session_embeddings)
  from public.session_embeddings as e
  join public.sessions as s on s.id = e.session_id
 group by s.user_id
 order by abs(count(*)::float8 / (select count(*) from public.session_embeddings) - 0.01),
          s.user_id
 limit 1
"""

EXACT = {"enable_indexscan": "off", "enable_bitmapscan": "off"}

# public.match_sessions' exact statement: the caller's readable set (RLS), ranked.
EXACT_PATH: LiteralString = """
with visible as materialized (
  select e.session_id, e.embedding operator(extensions.<=>) %s::extensions.vector as distance
    from public.session_embeddings as e
)
select session_id from visible order by distance, session_id limit 10
"""
# What the HNSW path costs the same caller: the index answers the ORDER BY … LIMIT, RLS filters.
HNSW_PATH = {
    "hnsw.ef_search": "100",
    "hnsw.iterative_scan": "relaxed_order",
    "hnsw.max_scan_tuples": "20000",
    "enable_seqscan": "off",
    "enable_bitmapscan": "off",
    "enable_sort": "off",
}

# The centre of the largest subtopic (a cluster of other users' embeddings), and the antipode of
# the embeddings' mean direction (empty space: every embedding is far from it).
CROWDED_QUERY: LiteralString = """
select extensions.l2_normalize(st.centre)::text
  from bench.vector_subtopics as st
 order by st.t, st.s
 limit 1
"""
EMPTY_QUERY: LiteralString = """
select extensions.l2_normalize(
         (select array_agg(-x order by n) from unnest(m.v::real[]) with ordinality as u (x, n))
         ::extensions.vector)::text
  from (select avg(embedding) as v from public.session_embeddings) as m
"""

GIVE_TO_PROBE: LiteralString = """
update public.session_embeddings set owner_id = %s::uuid
 where session_id in (select session_id from public.session_embeddings
                       order by md5(session_id::text) limit %s)
"""
RESTORE_OWNERS: LiteralString = """
update public.session_embeddings as e
   set owner_id = s.user_id
  from public.sessions as s
 where s.id = e.session_id and e.owner_id = %s::uuid
"""

# What the data looks like: cosine similarity of a query to its nearest row, to its 10th
# nearest, and to rows at random (20 queries, exact).
SHAPE: LiteralString = """
with q as (select q, v from bench.vector_queries order by q limit 20),
     near as (
       select q.q, n.rank, n.similarity
         from q,
              lateral (select row_number() over (order by e.embedding operator(extensions.<=>) q.v)
                              as rank,
                              1 - (e.embedding operator(extensions.<=>) q.v) as similarity
                         from public.session_embeddings as e
                        order by e.embedding operator(extensions.<=>) q.v
                        limit 10) as n),
     random_rows as (
       select 1 - (e.embedding operator(extensions.<=>) q.v) as similarity
         from q,
              lateral (select embedding from public.session_embeddings
                        order by md5(session_id::text || q.q) limit 50) as e)
select (select avg(similarity) from near where rank = 1),
       (select avg(similarity) from near where rank = 10),
       (select avg(similarity) from random_rows)
"""


def missing(features: Features) -> str | None:
    if (TABLE, "embedding") not in {(t, c) for t, c, _ in features.vector_columns}:
        return (
            "no public.session_embeddings(embedding vector) in the schema: semantic search has "
            "not landed on this branch"
        )
    if not features.has_function(MATCH):
        return "public.session_embeddings exists but public.match_sessions does not"
    return None


def _dims(conn: Conn) -> int:
    row = one(
        conn,
        "select atttypmod from pg_catalog.pg_attribute"
        " where attrelid = 'public.session_embeddings'::regclass and attname = 'embedding'",
    )
    return int(row[0])


def generate(db: BenchDatabase, scale: Scale, progress: Progress) -> dict[str, Any]:
    total = scale.embeddings
    topics = max(4, total // PER_TOPIC)
    with db.connect(admin=True) as conn:
        dims = _dims(conn)
        params: dict[str, Any] = {
            "dims": dims,
            "topics": topics,
            "subtopics": SUBTOPICS,
            "anchor": ANCHOR,
            "max_versions": scale.max_versions,
        }
        conn.execute("select setseed(%s)", (SEED,))
        with conn.transaction():
            for statement in TOPICS:
                conn.execute(statement, params if "%(" in statement else None)
        indexes = conn.execute(HNSW_INDEXES).fetchall()
        # Building the index once after the load is how a backfill is done, and far faster
        # than growing the graph row by row; the definitions are the migration's own.
        with conn.transaction():
            for name, _ in indexes:
                conn.execute(f"drop index {name}".encode())
        owned = bool(one(conn, HAS_OWNER)[0])
        conn.execute("set session_replication_role = replica")
        points = POINTS.replace("{id_expr}", "bench.session_uuid(i)").replace(
            "{extra}",
            ", %(model)s, bench.versions_of(i, %(max_versions)s),"
            " bench.created_of(i, %(anchor)s) + interval '1 hour',"
            " bench.created_of(i, %(anchor)s) + interval '1 hour'"
            + (", bench.user_uuid(bench.owner_of(i, %(users)s))" if owned else ""),
        )
        insert = (
            INSERT_EMBEDDINGS.replace(", updated_at)", ", updated_at, owner_id)")
            if owned
            else INSERT_EMBEDDINGS
        )
        for lo, hi in chunks(total):
            with conn.transaction():
                conn.execute(
                    (insert + points).encode(),
                    {**params, "lo": lo, "hi": hi, "model": MODEL, "users": scale.users},
                )
            progress.step(f"embeddings ({dims} dimensions, {topics} topics)", hi, total)
        conn.execute("reset session_replication_role")
        conn.execute("set maintenance_work_mem = '1GB'")
        start = clock()
        for _, definition in indexes:
            conn.execute(definition.encode())
        build = clock() - start
        progress.say(f"embeddings: HNSW index built in {build:.1f} s")
        conn.execute("vacuum (analyze) public.session_embeddings")
        with conn.transaction():
            conn.execute(
                "create table bench.vector_queries as "
                + POINTS.replace("{id_expr}", "i as q").replace("{extra}", " as v"),
                {**params, "lo": QUERY_IDS, "hi": QUERY_IDS + QUERY_COUNT - 1},
            )
        row = one(conn, "select count(*) from public.session_embeddings")
        with conn.transaction():
            for name, value in EXACT.items():
                conn.execute("select set_config(%s, %s, true)", (name, value))
            shape = one(conn, SHAPE)
    return {
        "embeddings": int(row[0]),
        "embedding_topics": topics,
        "hnsw_build_seconds": round(build, 1),
        "cosine_nearest": round(float(shape[0]), 3),
        "cosine_10th_nearest": round(float(shape[1]), 3),
        "cosine_random_pair": round(float(shape[2]), 3),
    }


def _recall(found: list[UUID], truth: list[UUID]) -> float:
    if not truth:
        return 1.0
    return len(set(found) & set(truth)) / min(K, len(truth))


def measure(db: BenchDatabase, repeats: Repeats, progress: Progress) -> list[Figure]:
    figures: list[Figure] = []
    service = Identity.service()
    with db.connect() as conn:
        # Each warm-up query costs an exact scan: a few warm the caches well enough.
        warm = min(repeats.warmup, 5)
        rows = conn.execute(
            "select v::text from bench.vector_queries order by q limit %s",
            (repeats.vector_queries + warm,),
        ).fetchall()
        queries = [str(r[0]) for r in rows]
        truth: dict[str, list[UUID]] = {}

        def exact(q: str) -> float:
            seconds, found = timed_fetch(conn, service, NEAREST, (q,), EXACT)
            truth[q] = [r[0] for r in found]
            return seconds

        for ef in EF_SEARCH:
            settings = {"hnsw.ef_search": str(ef), "hnsw.iterative_scan": "off"}
            recalls: list[float] = []

            def hnsw(
                q: str, settings: dict[str, str] = settings, recalls: list[float] = recalls
            ) -> float:
                seconds, found = timed_fetch(conn, service, NEAREST, (q,), settings)
                recalls.append(_recall([r[0] for r in found], truth.get(q, [])))
                return seconds

            # Exact first on each query, so that recall is known when the index answers.
            a, b = paired(exact, hnsw, queries, warmup=warm)
            recall = Summary.of(recalls[-len(a) :], higher_is_better=True)
            figures.append(
                Figure(
                    section="vector",
                    name=f"10 nearest of all, hnsw.ef_search {ef}",
                    unit="ms",
                    subject_label="HNSW index (service_role)",
                    subject=Summary.of(ms(b)),
                    baseline_label="exact scan",
                    baseline=Summary.of(ms(a)),
                    goal=RECALL_GOAL if ef == 100 else None,
                    metric=recall.mean,
                    note=f"recall@10 {recall.mean:.3f} (worst 5%: {recall.p95:.2f})",
                    detail={
                        "plan_subject": plan(conn, service, NEAREST, (queries[0],), settings),
                        "plan_baseline": plan(conn, service, NEAREST, (queries[0],), EXACT),
                    },
                )
            )
            progress.say(f"vector search: ef_search {ef}: recall@10 {recall.mean:.3f}")
        figures.extend(_selective(conn, queries, warm, progress))
    if _has_owner(db):
        figures.extend(measure_threshold(db, repeats, progress))
    return figures


def _threshold_at(db: BenchDatabase, probe: Identity, queries: list[str], size: int) -> Figure:
    recalls: list[float] = []
    exact_ids: dict[str, list[UUID]] = {}
    with db.connect() as conn:

        def exact(q: str) -> float:
            seconds, found = timed_fetch(conn, probe, EXACT_PATH, (q,))
            exact_ids[q] = [r[0] for r in found]
            return seconds

        def hnsw(q: str) -> float:
            seconds, found = timed_fetch(conn, probe, NEAREST, (q,), HNSW_PATH)
            recalls.append(_recall([r[0] for r in found], exact_ids.get(q, [])))
            return seconds

        a, b = paired(exact, hnsw, queries, warmup=2)
        recall = Summary.of(recalls[-len(b) :], higher_is_better=True)
        return Figure(
            section="vector",
            name=f"exact path threshold: a caller reading {size:,} embeddings",
            unit="ms",
            subject_label="exact: readable set ranked by distance",
            subject=Summary.of(ms(a)),
            baseline_label="HNSW iterative scan",
            baseline=Summary.of(ms(b)),
            note=f"HNSW recall@10 {recall.mean:.3f}; exact recall 1",
            detail={
                "readable": size,
                "plan_subject": plan(conn, probe, EXACT_PATH, (queries[0],)),
                "plan_baseline": plan(conn, probe, NEAREST, (queries[0],), HNSW_PATH),
            },
        )


def _has_owner(db: BenchDatabase) -> bool:
    with db.connect() as conn:
        return bool(one(conn, HAS_OWNER)[0])


def _selective(conn: Conn, queries: list[str], warm: int, progress: Progress) -> list[Figure]:
    row = one(conn, SELECTIVE_USER)
    user, share = row[0], float(row[1])
    who = Identity.user(user)
    truth: dict[str, list[UUID]] = {}
    figures: list[Figure] = []

    def exact(q: str) -> float:
        seconds, found = timed_fetch(conn, who, NEAREST, (q,), EXACT)
        truth[q] = [r[0] for r in found]
        return seconds

    # The exact scans (the truth, and the baseline) run first, all of them: interleaved with the
    # variants, each would push the table through shared_buffers and leave every variant a cold
    # cache that a user's repeated searches do not see (at scale 3 the table outgrows 256 MB).
    for q in queries[:warm]:
        exact(q)
    a = [exact(q) for q in queries[warm:]]

    variants: list[tuple[str, LiteralString, dict[str, str], Goal | None]] = [
        ("iterative scans off", NEAREST, {"hnsw.iterative_scan": "off"}, None),
        (
            "iterative scans on (relaxed_order)",
            NEAREST,
            {"hnsw.iterative_scan": "relaxed_order"},
            FULL_COUNT_GOAL,
        ),
        ("public.match_sessions", MATCH_SESSIONS, {}, EXACT_MEDIAN_GOAL),
    ]
    for label, query, settings, goal in variants:
        counts: list[float] = []
        recalls: list[float] = []

        def search(
            q: str,
            query: LiteralString = query,
            settings: dict[str, str] = settings,
            counts: list[float] = counts,
            recalls: list[float] = recalls,
        ) -> float:
            seconds, found = timed_fetch(conn, who, query, (q,), settings)
            ids = [r[0] for r in found]
            counts.append(len(ids))
            recalls.append(_recall(ids, truth.get(q, [])))
            return seconds

        for q in queries[:warm]:
            search(q)
        b = [search(q) for q in queries[warm:]]
        n = len(b)
        returned = Summary.of(counts[-n:], higher_is_better=True)
        recall = Summary.of(recalls[-n:], higher_is_better=True)
        figures.append(
            Figure(
                section="vector",
                name="10 nearest among one user's own (~1% of all)",
                unit="ms",
                subject_label=label,
                subject=Summary.of(ms(b)),
                baseline_label="exact scan under RLS",
                baseline=Summary.of(ms(a)),
                goal=goal,
                metric=returned.mean,
                note=(
                    f"rows {returned.mean:.1f} of {K} (fewest: {returned.p95:.0f}); "
                    f"recall@10 {recall.mean:.3f}; the user owns {share:.1%}"
                ),
                detail={
                    "owner_share": share,
                    "plan_subject": plan(conn, who, query, (queries[0],), settings),
                    "plan_baseline": plan(conn, who, NEAREST, (queries[0],), EXACT),
                },
            )
        )
        progress.say(f"vector search: selective, {label}: {returned.mean:.1f} rows")
    figures.append(_neighbourhood(conn, who, share, truth, queries, warm, progress))
    return figures


def _neighbourhood(
    conn: Conn,
    who: Identity,
    share: float,
    truth: dict[str, list[UUID]],
    queries: list[str],
    warm: int,
    progress: Progress,
) -> Figure:
    """The same caller's search with the query among other users' embeddings and in empty space:
    the exact path does the same work for both, the HNSW scan did not."""
    crowded = str(one(conn, CROWDED_QUERY)[0])
    empty = str(one(conn, EMPTY_QUERY)[0])
    results: dict[str, list[list[UUID]]] = {crowded: [], empty: []}
    for q in (crowded, empty):
        _, found = timed_fetch(conn, who, NEAREST, (q,), EXACT)
        truth[q] = [r[0] for r in found]

    def search(q: str) -> float:
        seconds, found = timed_fetch(conn, who, MATCH_SESSIONS, (q,))
        results[q].append([r[0] for r in found])
        return seconds

    runs = max(len(queries) - warm, 10)
    a, b = paired(
        lambda _: search(crowded), lambda _: search(empty), list(range(runs + warm)), warmup=warm
    )
    crowded_recall = min(_recall(r, truth[crowded]) for r in results[crowded])
    empty_recall = min(_recall(r, truth[empty]) for r in results[empty])
    rows = {len(r) for r in results[crowded] + results[empty]}
    progress.say(f"vector search: crowded vs empty space, {runs} pairs")
    return Figure(
        section="vector",
        name="10 nearest among one user's own: query among others' embeddings vs empty space",
        unit="ms",
        subject_label="query at the centre of others' largest cluster",
        subject=Summary.of(ms(a)),
        baseline_label="query in empty space",
        baseline=Summary.of(ms(b)),
        goal=NEIGHBOURHOOD_GOAL,
        note=(
            f"rows {'/'.join(str(n) for n in sorted(rows))} of {K} both; worst recall@10 "
            f"{crowded_recall:.3f} vs {empty_recall:.3f}; the user owns {share:.1%}"
        ),
        detail={"crowded_recall": crowded_recall, "empty_recall": empty_recall},
    )


def measure_threshold(db: BenchDatabase, repeats: Repeats, progress: Progress) -> list[Figure]:
    """The exact statement against the HNSW iterative scan for a caller reading N embeddings: N
    random rows are given to a probe user (owner_id, as the trigger would copy it) and given back
    afterwards. Where the two cross is public.match_sessions' exact_search_limit."""
    figures: list[Figure] = []
    probe = Identity.user(UUID(PROBE_USER))
    total = 0
    with db.connect() as conn:
        total = int(one(conn, "select count(*) from public.session_embeddings")[0])
        rows = conn.execute(
            "select v::text from bench.vector_queries order by q desc limit %s",
            (max(10, repeats.vector_queries // 2) + 2,),
        ).fetchall()
    queries = [str(r[0]) for r in rows]
    for size in THRESHOLD_SIZES:
        if size > total // 2:
            break
        with db.connect(admin=True) as admin:
            admin.execute("set session_replication_role = replica")
            admin.execute(GIVE_TO_PROBE, (PROBE_USER, size))
            admin.execute("analyze public.session_embeddings")
        try:
            figures.append(_threshold_at(db, probe, queries, size))
        finally:
            with db.connect(admin=True) as admin:
                admin.execute("set session_replication_role = replica")
                admin.execute(RESTORE_OWNERS, (PROBE_USER,))
                admin.execute("analyze public.session_embeddings")
        progress.say(f"vector search: threshold, {size} readable")
    return figures
