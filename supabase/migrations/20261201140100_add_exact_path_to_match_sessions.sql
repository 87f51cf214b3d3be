-- Why: a signed-in user searches among the embeddings they may read, about 1% of all of them.
-- Through HNSW that costs an iterative scan over other users' neighbourhoods (measured: recall@10
-- 0.93, 10 ms, 4.3 times slower when the query lies among other users' embeddings). The
-- previous migration keeps each embedding's owner on its row, under a B-tree index, and the
-- select policy reads it and the caller's shares, so the caller's readable set is a pair of index
-- lookups (owner_id, and session_id for the sessions shared with them); ranking it by plain
-- distance is exact and costs one distance per readable embedding, wherever the query lies.
--
-- public.match_sessions therefore takes one of two paths:
--   exact  a signed-in caller whose readable embeddings number at most exact_search_limit
--          (below): the readable set, ordered by true cosine distance. Recall 1.
--   HNSW   a larger readable set, and service_role (no auth.uid(): every embedding): the index
--          with iterative scans and its bound on work, as before.
-- The limit, 1,000 readable embeddings, is measured by `make bench` (section vector, "exact path
-- threshold": N embeddings given to a probe user, the exact statement against the iterative
-- scan, at the default scale, one run): 250 readable 1.1 ms against 14 ms, 500 2.2 against
-- 10.5, 1,000 3.4 against 2.5 (HNSW recall 0.99), 2,000 7.3 against 2.1. The times cross near
-- 800; up to 1,000 the exact path costs at most 1.4 times the index scan and is exact, beyond it
-- the cost grows with the set while the index scan's does not.
-- Counting stops at the limit, so deciding costs at most that many index entries.
--
-- Both paths run as the caller (SECURITY INVOKER): RLS on session_embeddings decides what is
-- visible, and on the exact path it alone selects the rows: the policy's conditions are the
-- index conditions (a filter of the query's own on who may read could not be: one calling a
-- function is not leakproof, so RLS would have it wait until after the policy, on every row).
--
-- Arguments, results and errors are those of the function this replaces.

-- On a live project, wait briefly for locks and then fail, rather than queue behind traffic.
set lock_timeout = '5s';
set statement_timeout = '60s';

-- The hnsw.* settings of the SET clauses below are known only once pgvector's library is loaded
-- in this connection (see the match_sessions migration).
do $$
begin
  perform extensions.vector_dims('[1]'::extensions.vector);
end
$$;

create or replace function public.match_sessions(
  query_embedding extensions.vector,
  match_count integer default 10,
  min_similarity double precision default -1
) returns table (session_id uuid, similarity double precision, is_stale boolean)
language plpgsql
stable
security invoker
set search_path = pg_catalog, pg_temp
set "hnsw.ef_search" = 100
set "hnsw.iterative_scan" = relaxed_order
set "hnsw.max_scan_tuples" = 20000
set plan_cache_mode = force_custom_plan
-- Declared so that the index path's change below ends with the call.
set enable_sort = on
as $$
declare
  -- Readable embeddings up to which the exact path is taken (measured; see above).
  exact_search_limit constant integer := 1000;
  dimensions integer;
  caller uuid := (select auth.uid());
  readable integer;
begin
  if match_sessions.query_embedding is null then
    raise exception 'query_embedding must not be null' using errcode = '22004';
  end if;
  if match_sessions.match_count is null then
    raise exception 'match_count must not be null' using errcode = '22004';
  end if;
  if match_sessions.min_similarity is null then
    raise exception 'min_similarity must not be null' using errcode = '22004';
  end if;

  select a.atttypmod into dimensions
    from pg_catalog.pg_attribute as a
   where a.attrelid = 'public.session_embeddings'::pg_catalog.regclass
     and a.attname = 'embedding';
  if extensions.vector_dims(match_sessions.query_embedding) <> dimensions then
    raise exception 'query_embedding has % dimensions; session embeddings have %',
      extensions.vector_dims(match_sessions.query_embedding), dimensions
      using errcode = '22023';
  end if;
  if extensions.vector_norm(match_sessions.query_embedding) = 0 then
    raise exception 'query_embedding is the zero vector, for which cosine similarity is undefined'
      using errcode = '22023';
  end if;
  if match_sessions.match_count not between 1 and 100 then
    raise exception 'match_count must be between 1 and 100, not %', match_sessions.match_count
      using errcode = '22023';
  end if;
  if match_sessions.min_similarity not between -1 and 1 then
    raise exception 'min_similarity must be between -1 and 1, not %', match_sessions.min_similarity
      using errcode = '22023';
  end if;

  if caller is not null then
    select count(*) into readable
      from (
        select from public.session_embeddings limit exact_search_limit + 1
      ) as r;
  end if;

  if caller is not null and readable <= exact_search_limit then
    -- Materialized: the readable set (RLS) is fetched through the owner and session indexes and
    -- then ranked; the planner never gets to answer the ORDER BY … LIMIT from the HNSW index.
    return query
    with visible as materialized (
      select
        e.session_id,
        e.ir_version,
        e.embedding operator(extensions.<=>) match_sessions.query_embedding as distance
      from public.session_embeddings as e
    ),
    nearest as materialized (
      select r.session_id, r.ir_version, r.distance
      from visible as r
      order by r.distance, r.session_id
      limit match_sessions.match_count
    )
    select
      n.session_id,
      1 - n.distance,
      n.ir_version <> s.ir_version
    from nearest as n
    inner join public.sessions as s on n.session_id = s.id
    where 1 - n.distance >= match_sessions.min_similarity
    order by n.distance, n.session_id;
    return;
  end if;

  -- The index path. Under RLS the planner cannot know how many rows the policy admits (its
  -- auth.uid() is an InitPlan) and may sort every readable row instead: for a signed-in caller
  -- above the limit that is the cost the limit exists to avoid. Without sorting, the HNSW index
  -- gives the order. (The final ORDER BY of at most match_count rows still sorts.)
  -- service_role has no policy, and the planner's own choice (an exact sort of a small table).
  if caller is not null then
    perform pg_catalog.set_config('enable_sort', 'off', true);
  end if;
  return query
  with nearest as materialized (
    select
      e.session_id,
      e.ir_version,
      e.embedding operator(extensions.<=>) match_sessions.query_embedding as distance
    from public.session_embeddings as e
    order by e.embedding operator(extensions.<=>) match_sessions.query_embedding
    limit match_sessions.match_count
  )
  select
    n.session_id,
    1 - n.distance,
    n.ir_version <> s.ir_version
  from nearest as n
  inner join public.sessions as s on n.session_id = s.id
  where 1 - n.distance >= match_sessions.min_similarity
  order by n.distance, n.session_id;
end
$$;

comment on function public.match_sessions(extensions.vector, integer, double precision) is
  'Sessions the caller may read whose IR embedding is most similar (cosine) to query_embedding, '
  'best first: at most match_count (1..100) with similarity >= min_similarity (-1..1). '
  'is_stale: the embedding was computed from an older IR version. Exact for a caller who reads '
  'up to 1000 embeddings.';

-- Grants are those of the replaced function (create or replace keeps them), stated again.
revoke execute on function public.match_sessions(extensions.vector, integer, double precision)
  from public, anon;
grant execute on function public.match_sessions(extensions.vector, integer, double precision)
  to authenticated, service_role;
