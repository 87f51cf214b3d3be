-- Why: semantic search over IRs, safe under RLS. Clients call
-- public.match_sessions(query_embedding, match_count, min_similarity) (RPC
-- POST /rest/v1/rpc/match_sessions) and get the sessions whose IR embeddings are most similar
-- (cosine similarity, 1 = same direction), best first, among the sessions they may read.
--
-- It is SECURITY INVOKER, so RLS decides what it sees: an embedding is visible only with its
-- session. RLS filters the rows an HNSW index scan produces after the scan; with pgvector's plain
-- scan (hnsw.ef_search candidates, 40 by default) a caller who owns 1% of the embeddings would
-- get almost nothing back. pgvector 0.8's iterative index scan keeps scanning until match_count
-- visible rows are found, bounded by hnsw.max_scan_tuples so that a caller with few readable
-- rows costs a bounded amount of work; when the bound is hit, fewer rows come back. The
-- relaxed_order scan may return neighbours slightly out of order, so the candidates are
-- materialized and re-sorted by their true distance: results are in exact similarity order.
-- The settings are the function's own (SET clauses): they apply to this call alone and are
-- restored afterwards, whatever the caller's session has set.
--
-- The similarity threshold is applied after the nearest rows are found, not inside the index
-- scan: a filter there would make the iterative scan run to its bound whenever fewer than
-- match_count rows are similar enough. Taking the match_count nearest and then dropping those
-- below the threshold gives the same rows.
--
-- Each row also says whether the embedding is stale (computed from an older IR version than
-- the session's current one).
--
-- Errors (SQLSTATE, message), each raised before any search:
--   22004  <argument> must not be null
--   22023  query_embedding has <n> dimensions; session embeddings have <d>
--   22023  query_embedding is the zero vector, for which cosine similarity is undefined
--   22023  match_count must be between 1 and 100, not <n>
--   22023  min_similarity must be between -1 and 1, not <x>
-- NaN and infinite components never reach the function: pgvector refuses them when the value
-- becomes a vector (SQLSTATE 22000, "NaN not allowed in vector", "infinite value not allowed in
-- vector"; 22003 for a number out of float4 range).

-- On a live project, wait briefly for locks (auth.users, referenced tables) and then fail, rather
-- than queue behind traffic and block it; the file rolls back whole and can simply be re-run.
-- Session-level on purpose: the CLI pipelines a file without a transaction block, where SET
-- LOCAL does nothing, and both the CLI and lift-db run RESET ALL between files.
set lock_timeout = '5s';
set statement_timeout = '60s';

-- The hnsw.* settings exist once pgvector's library is loaded in this connection; before that
-- they are unknown names, which only a superuser may put in a function's SET clause. `db push`
-- may run this file alone on a fresh connection, so use a pgvector function first: that loads
-- the library, and the settings below are then known, user-settable parameters.
do $$
begin
  perform extensions.vector_dims('[1]'::extensions.vector);
end
$$;

create function public.match_sessions(
  query_embedding extensions.vector,
  match_count integer default 10,
  min_similarity double precision default -1
) returns table (session_id uuid, similarity double precision, is_stale boolean)
language plpgsql
stable
security invoker
set search_path = ''
-- The pgvector settings' names are quoted only for sqlfluff, whose parser takes no dotted name
-- here; PostgreSQL reads the same names either way.
-- Candidates per search step: enough for the largest match_count in one step.
set "hnsw.ef_search" = 100
set "hnsw.iterative_scan" = relaxed_order
-- The bound on one search's work (pgvector's default, stated as a decision).
set "hnsw.max_scan_tuples" = 20000
-- Plan every call with its actual arguments: a generic plan would have to guess the LIMIT.
set plan_cache_mode = force_custom_plan
as $$
declare
  dimensions integer;
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

  -- The dimension is declared once, by the embedding column's type (vector's type modifier is
  -- its dimension).
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
  -- NaN compares greater than every number, so it fails the upper bound.
  if match_sessions.min_similarity not between -1 and 1 then
    raise exception 'min_similarity must be between -1 and 1, not %', match_sessions.min_similarity
      using errcode = '22023';
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
  'is_stale: the embedding was computed from an older IR version.';

revoke execute on function public.match_sessions(extensions.vector, integer, double precision)
  from public, anon;
grant execute on function public.match_sessions(extensions.vector, integer, double precision)
  to authenticated, service_role;
