-- Why: a user's search runs over the embeddings they may read, about 1% of all of them. The HNSW
-- index cannot be told which those are: its iterative scan walks other users' neighbourhoods
-- until enough readable rows turn up, so recall drops below 1 and the latency depends on where
-- other users' data lies. Keeping who may read an embedding on the embedding row itself (its
-- session's owner, and the users the session is shared with) lets public.match_sessions fetch
-- exactly the caller's readable set through ordinary indexes and rank it exactly.
--
-- The select policy then reads the copy: `owner_id = (select auth.uid()) or reader_ids @>
-- array[(select auth.uid())]`, one InitPlan and two index conditions, where it used to ask
-- public.sessions' policies for every row (a hashed subplan over every session the caller may
-- read: 1 ms for a user with a thousand sessions, growing with them). Who may read an embedding
-- does not change: its session's owner and the users it is shared with. Because the copy now
-- decides, it is kept exact, in the statement that changes what it copies:
--   * a BEFORE trigger sets both columns on every insert and update of an embedding, whatever
--     the writer supplied (API roles cannot name the columns at all: no column grant);
--   * an AFTER trigger on session_shares rewrites reader_ids of the session's embedding on every
--     share and unshare, so a revoked share ends access at its commit, as before; deleting a
--     session deletes its embedding (foreign key cascade).
-- Both triggers are SECURITY DEFINER (a viewer cannot write the embedding; the owner's share
-- cannot read other grantees' shares) and take the embedding's row lock, then the same
-- per-session transaction advisory lock, in that order: an embedding written concurrently with
-- a share or an unshare of its session reads the other's committed result, so neither can leave
-- the copy behind, and the two cannot deadlock. A session's owner never changes (the sessions
-- guard refuses it for everyone), so owner_id is set once. Writing an embedding stays the
-- owner's alone: those policies still ask public.sessions.

-- On a live project, wait briefly for locks and then fail, rather than queue behind traffic.
-- The backfill and the index builds read every embedding once: a minute at most.
set lock_timeout = '5s';
set statement_timeout = '60s';

alter table public.session_embeddings
  add column owner_id uuid,
  add column reader_ids uuid[] not null default '{}';

comment on column public.session_embeddings.owner_id is
  'Copy of the session''s owner (sessions.user_id), kept by trigger: the search''s index.';
comment on column public.session_embeddings.reader_ids is
  'Copy of the users the session is shared with (session_shares), kept by trigger.';

-- The exact search reads every readable embedding, so where a vector is stored decides its
-- cost. With the type's default (extended), a 6 KB vector goes out of line into the TOAST table
-- and each read costs a TOAST index lookup and several chunk fetches; kept in the row (main: in
-- line unless the row cannot fit a page, and never compressed here, as float data does not
-- compress by the 25% pglz asks) a scan of 600 readable vectors measured 0.8 ms instead of 2.6.
-- The storage applies to values written from now on: the backfill below writes every vector
-- again (a value-preserving cast), which moves the existing ones into their rows.
alter table public.session_embeddings alter column embedding set storage main;

-- The guard trigger would stamp updated_at on every row: the embeddings did not change.
alter table public.session_embeddings disable trigger session_embeddings_guard;
update public.session_embeddings as e
set
  embedding = e.embedding::real[]::extensions.vector,
  owner_id = s.user_id,
  reader_ids = coalesce(
    array(
      select sh.user_id
      from public.session_shares as sh
      where sh.session_id = e.session_id
      order by sh.user_id
    ),
    '{}'
  )
from public.sessions as s
where s.id = e.session_id;
alter table public.session_embeddings enable trigger session_embeddings_guard;

-- Backfilled above, in the same transaction that holds the table since the add column: the scan
-- this validation makes is the only one, and no writer can slip a null in between.
-- squawk-ignore adding-not-nullable-field
alter table public.session_embeddings alter column owner_id set not null;

-- One embedding per session, so these indexes have as many entries as there are embeddings;
-- the build holds off writes of embeddings (an embedding job, never a user's request) briefly.
-- squawk-ignore require-concurrent-index-creation
create index session_embeddings_owner_id_idx
  on public.session_embeddings using btree (owner_id);
-- squawk-ignore require-concurrent-index-creation
create index session_embeddings_reader_ids_idx
  on public.session_embeddings using gin (reader_ids);

-- Serialises the copy's writers of one session: embeddings and shares of different sessions
-- never wait for each other.
create function private.lock_session_access(session_id uuid) returns void
language sql
set search_path = pg_catalog, pg_temp
as $$
  select pg_catalog.pg_advisory_xact_lock(
    pg_catalog.hashtextextended('session_access:' || lock_session_access.session_id::text, 0)
  )
$$;

revoke execute on function private.lock_session_access(uuid) from public;

create function private.copy_session_embedding_access() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  perform private.lock_session_access(new.session_id);
  -- Read after the lock: a share committed meanwhile is seen (each query of a volatile function
  -- takes a fresh snapshot under read committed).
  select s.user_id into new.owner_id
    from public.sessions as s
   where s.id = new.session_id;
  new.reader_ids := coalesce(
    array(
      select sh.user_id
        from public.session_shares as sh
       where sh.session_id = new.session_id
       order by sh.user_id
    ),
    '{}'::pg_catalog.uuid []
  );
  return new;
end
$$;

revoke execute on function private.copy_session_embedding_access() from public;

-- A session the caller may not read, or that does not exist, is refused by
-- session_embeddings_guard (a BEFORE trigger of the same event, running after this one in name
-- order): what this one read as the table's owner is then never written. A share or an unshare
-- rewrites the copy through an UPDATE of the embedding, which the guard stamps in updated_at:
-- the row, its readers included, changed.
create trigger session_embeddings_200_copy_access
  before insert or update on public.session_embeddings
  for each row execute function private.copy_session_embedding_access();

create function private.sync_session_embedding_readers() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  changed pg_catalog.uuid := coalesce(new.session_id, old.session_id);
begin
  -- A share deleted with its session (cascade): the embedding goes too, nothing to copy.
  if not exists (select from public.sessions as s where s.id = changed) then
    return null;
  end if;
  -- Row lock first, as an update of the embedding takes it before its BEFORE trigger runs.
  perform from public.session_embeddings as e
   where e.session_id = changed
     for no key update;
  perform private.lock_session_access(changed);
  update public.session_embeddings as e
     set reader_ids = coalesce(
           array(
             select sh.user_id
               from public.session_shares as sh
              where sh.session_id = changed
              order by sh.user_id
           ),
           '{}'::pg_catalog.uuid []
         )
   where e.session_id = changed;
  return null;
end
$$;

revoke execute on function private.sync_session_embedding_readers() from public;

-- A role change (viewer, editor) does not change who reads: both read and both search.
create trigger session_shares_200_sync_embedding_readers
  after insert or delete on public.session_shares
  for each row execute function private.sync_session_embedding_readers();

-- Reading an embedding: its session's owner, or a user the session is shared with, from the copy.
alter policy session_embeddings_select_readable on public.session_embeddings
  using (
    owner_id = (select auth.uid())
    or reader_ids @> array[(select auth.uid())]
  );
