-- Why: public.match_sessions decides between its exact path and the HNSW index by counting the
-- caller's readable embeddings, and that count read every readable row's heap page: a vector
-- fills most of a page, so the count touched as many pages as the exact ranking after it and
-- cost nearly as much (measured at three times the default bench scale, 279 readable: 0.47 ms
-- of a 1.2 ms search; a caller above the limit paid for 1,001 pages before the index scan even
-- began). The search's latency grew with the caller's readable set through the count as much as
-- through the ranking.
--
-- The count now comes from indexes alone: the caller's own embeddings from an index on
-- (owner_id, session_id), which holds every column the select policy reads, so the count is an
-- index-only scan (0.13 ms for the same caller); the sessions shared with them from
-- session_shares' index on (user_id, session_id). The policy admits exactly the owned and the
-- shared embeddings, so the sum is an upper bound of the readable set: a share of a session
-- without an embedding counts although it holds nothing to rank, which can only send a caller
-- near the limit to the index path sooner. What is visible is decided, as before, by RLS alone;
-- the count only picks the path.
--
-- The new index replaces session_embeddings_owner_id_idx, of which it is a prefix: the exact
-- statement fetches the owned rows through it the same way.

-- On a live project, wait briefly for locks and then fail, rather than queue behind traffic.
-- The index build reads every embedding's owner and session once: seconds.
set lock_timeout = '5s';
set statement_timeout = '60s';

-- One entry per embedding; the build holds off writes of embeddings (an embedding job, never a
-- user's request) briefly.
-- squawk-ignore require-concurrent-index-creation
create index session_embeddings_owner_id_session_id_idx
  on public.session_embeddings using btree (owner_id, session_id);

-- squawk-ignore require-concurrent-index-deletion
drop index public.session_embeddings_owner_id_idx;

-- The hnsw.* settings of the SET clauses below are known only once pgvector's library is loaded
-- in this connection (see the match_sessions migration).
do $$
begin
  perform extensions.vector_dims('[1]'::extensions.vector);
end
$$;

-- Unchanged from 20261201140100_add_exact_path_to_match_sessions.sql but for the count.
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
  -- Readable embeddings up to which the exact path is taken (measured; see 20261201140100).
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

  -- Owned embeddings plus shares: an upper bound of the readable set, read from indexes only
  -- (see above). Each count stops past the limit.
  if caller is not null then
    select
      (
        select count(*) from (
          select from public.session_embeddings as e
          where e.owner_id = caller
          limit exact_search_limit + 1
        ) as owned
      )
      + (
        select count(*) from (
          select from public.session_shares as sh
          where sh.user_id = caller
          limit exact_search_limit + 1
        ) as shared
      )
    into readable;
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
  'is_stale: the embedding was computed from an older IR version. Exact for a caller whose own '
  'embeddings and shares number at most 1000 together.';

-- Grants are those of the replaced function (create or replace keeps them), stated again.
revoke execute on function public.match_sessions(extensions.vector, integer, double precision)
  from public, anon;
grant execute on function public.match_sessions(extensions.vector, integer, double precision)
  to authenticated, service_role;
