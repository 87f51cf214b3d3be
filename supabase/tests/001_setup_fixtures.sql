-- The test helpers, part 2 of 3: scenes and digests. Builders that set a scene (sessions,
-- shares, embeddings) whoever is acting, so that a test sets it up and then switches identity,
-- and digests that prove a refused statement changed nothing. Installed after
-- 000_setup_identity.sql, which made schema `tests` (read its header); tested in
-- 006_helpers_fixtures.sql. The builders are SECURITY DEFINER: like the rest of the schema they
-- are dropped at the end of every run.

-- tests.create_session(owner_identifier, prompt, ir, status) -> uuid
-- A session of the named test user, inserted as the table owner whoever is acting (RLS does not
-- judge it), with this prompt, current IR (null: none, so no history yet) and status. An IR makes
-- it version 1, recorded in session_history as any write of an IR is. Raises if the user does
-- not exist. Returns the session's id. Use it to set the scene, then switch identity; give every
-- session of a test its own prompt, since tests find sessions by it.
create or replace function tests.create_session(
  owner_identifier pg_catalog.text,
  prompt pg_catalog.text default 'Build a command-line todo app',
  ir pg_catalog.jsonb default null,
  status pg_catalog.text default 'active'
) returns pg_catalog.uuid
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  owner_id pg_catalog.uuid := tests.get_supabase_uid(owner_identifier);
  session_id pg_catalog.uuid;
begin
  if owner_id is null then
    raise exception 'tests.create_session: no test user %', owner_identifier;
  end if;
  insert into public.sessions (user_id, prompt, current_ir, status)
  values (owner_id, prompt, ir, status)
  returning id into session_id;
  return session_id;
end
$$;

-- tests.get_session_id(prompt) -> uuid
-- The id of the session with this prompt, whoever is acting (RLS does not hide it), or null.
-- Use it to name in a statement a session the acting user may not see.
create or replace function tests.get_session_id(prompt pg_catalog.text)
returns pg_catalog.uuid
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select s.id from public.sessions as s where s.prompt = get_session_id.prompt
$$;

-- tests.user_data_digest(identifier) -> text
-- An md5 of every session the user owns and every history row of those sessions, every column
-- included, whoever is acting. Use it around a refused statement: equal digests before and
-- after prove that it changed nothing of the user's (keep the first in a setting, e.g.
-- set_config('test.digest', ..., true), since the acting role may not read it back).
create or replace function tests.user_data_digest(identifier pg_catalog.text)
returns pg_catalog.text
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select pg_catalog.md5(
    coalesce((select pg_catalog.jsonb_agg(pg_catalog.to_jsonb(s) order by s.id)::pg_catalog.text
                from public.sessions as s
               where s.user_id = tests.get_supabase_uid(identifier)), '[]')
    operator(pg_catalog.||)
    coalesce((select pg_catalog.jsonb_agg(pg_catalog.to_jsonb(h)
                                          order by h.session_id, h.version)::pg_catalog.text
                   from public.session_history as h
                   join public.sessions as s on s.id = h.session_id
                  where s.user_id = tests.get_supabase_uid(identifier)), '[]')
  )
$$;

-- tests.embedding_dimensions() -> integer
-- The dimension of public.session_embeddings.embedding, read from the column's type. Use it
-- instead of writing 1536, so that a migration changing the dimension changes the tests with it.
create or replace function tests.embedding_dimensions() returns integer
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select a.atttypmod
    from pg_catalog.pg_attribute as a
   where a.attrelid = 'public.session_embeddings'::pg_catalog.regclass
     and a.attname = 'embedding'
$$;

-- tests.planar_embedding(degrees) -> extensions.vector
-- A unit vector of the embedding dimension in the plane of the first two axes, at this angle from
-- the first: its cosine similarity to planar_embedding(a) is exactly cos(degrees - a). Use it to
-- build embeddings whose true ranking against a query is known in advance.
create or replace function tests.planar_embedding(degrees double precision)
returns extensions.vector
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select (
    array[cosd(degrees), sind(degrees)]::real[]
    || array_fill(0::real, array[tests.embedding_dimensions() - 2])
  )::extensions.vector
$$;

-- tests.embed_session(prompt, embedding, model)
-- Stores (or replaces) the embedding of the session with this prompt, as computed from its
-- current IR version, whoever is acting. Use it to set the scene for a search.
create or replace function tests.embed_session(
  prompt pg_catalog.text,
  embedding extensions.vector,
  model pg_catalog.text default 'test-embedding-model'
) returns void
language sql
security definer
set search_path = pg_catalog, pg_temp
as $$
  insert into public.session_embeddings (session_id, embedding, model, ir_version)
  select s.id, embed_session.embedding, embed_session.model, s.ir_version
    from public.sessions as s
   where s.prompt = embed_session.prompt
  on conflict (session_id) do update
    set embedding = excluded.embedding, model = excluded.model, ir_version = excluded.ir_version
$$;

-- tests.share_session(session_id, grantee_identifier, role)
-- Shares the session with the named test user in this role ('viewer' unless said otherwise), as
-- its owner would, whoever is acting. Raises if the user does not exist. Use it to set the scene
-- for a collaborator.
create or replace function tests.share_session(
  session_id pg_catalog.uuid,
  grantee_identifier pg_catalog.text,
  role pg_catalog.text default 'viewer'
) returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  grantee_id pg_catalog.uuid := tests.get_supabase_uid(grantee_identifier);
begin
  if grantee_id is null then
    raise exception 'tests.share_session: no test user %', grantee_identifier;
  end if;
  insert into public.session_shares (session_id, user_id, role)
  values (share_session.session_id, grantee_id, share_session.role);
end
$$;

-- tests.collaboration_digest(session_id) -> text
-- An md5 of the session's shares, its comments and its analytics events, every column included,
-- whoever is acting. Use it around a refused write by a collaborator: equal digests before and
-- after prove that it wrote nothing.
create or replace function tests.collaboration_digest(session_id pg_catalog.uuid)
returns pg_catalog.text
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select pg_catalog.md5(
    coalesce((select pg_catalog.jsonb_agg(pg_catalog.to_jsonb(sh) order by sh.user_id)::pg_catalog.text
                from public.session_shares as sh
               where sh.session_id = collaboration_digest.session_id), '[]')
    operator(pg_catalog.||)
    coalesce((select pg_catalog.jsonb_agg(pg_catalog.to_jsonb(c) order by c.id)::pg_catalog.text
                   from public.comments as c
                  where c.session_id = collaboration_digest.session_id), '[]')
    operator(pg_catalog.||)
    coalesce((select pg_catalog.jsonb_agg(pg_catalog.to_jsonb(e) order by e.id)::pg_catalog.text
                   from public.analytics_events as e
                  where e.session_id = collaboration_digest.session_id), '[]')
  )
$$;

-- tests.row_count(relation) -> bigint
-- The number of rows of a relation named at run time, as the acting role sees it (not a definer:
-- RLS applies). Use it for relations a test creates, such as a new partition, which a query
-- written in the file could not name before the relation existed.
create or replace function tests.row_count(relation pg_catalog.regclass) returns bigint
language plpgsql
stable
set search_path = pg_catalog, pg_temp
as $$
declare
  n bigint;
begin
  execute format('select count(*) from %s', relation) into n;
  return n;
end
$$;

revoke execute on all functions in schema tests from public;
grant execute on all functions in schema tests to anon, authenticated, service_role;

-- The names and signatures every test file calls (what they do: 006_helpers_fixtures.sql).
begin;
select plan(9);

select has_function('tests', 'create_session', array['text', 'text', 'jsonb', 'text']);
select has_function('tests', 'get_session_id', array['text']);
select has_function('tests', 'user_data_digest', array['text']);
select has_function('tests', 'embedding_dimensions', array[]::text[]);
select has_function('tests', 'planar_embedding', array['double precision']);
select has_function('tests', 'embed_session', array['text', 'extensions.vector', 'text']);
select has_function('tests', 'share_session', array['uuid', 'text', 'text']);
select has_function('tests', 'collaboration_digest', array['uuid']);
select has_function('tests', 'row_count', array['regclass']);

select * from finish();
rollback;
