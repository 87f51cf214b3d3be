-- Why: a user's search runs over the embeddings they may read, about 1% of all of them. The HNSW
-- index cannot be told which those are: its iterative scan walks other users' neighbourhoods
-- until enough readable rows turn up, so recall drops below 1 and the latency depends on where
-- other users' data lies. Keeping the session's owner on the embedding row itself lets
-- public.match_sessions fetch exactly the caller's readable set through ordinary indexes and
-- rank it exactly.
--
-- The select policy then reads `owner_id = (select auth.uid()) or session_id = any (array
-- (select private.shared_session_ids()))`: the caller's own embeddings through the owner_id
-- index, the ones shared with them through the session_id index (the shared half is the one the
-- sessions policies use, read from session_shares at query time), where it used to ask
-- public.sessions' policies for every row (a hashed subplan over every session the caller may
-- read: 1 ms for a user with a thousand sessions, growing with them).
--
-- Only the owner is copied. It is no secret (a grantee already reads the session's user_id) and
-- it never changes (the sessions guard refuses it for everyone), so the copy is set once and
-- cannot fall behind. The list of grantees is not copied: on the embedding row every grantee
-- would read every other grantee's id, which session_shares hides (a grantee sees only their own
-- share), and a second copy of the shares would have to be kept in step with them. Reading the
-- shares themselves, a share, an unshare or a deleted session takes effect at its commit.
--
-- A BEFORE trigger sets owner_id on every insert and update of an embedding, whatever the writer
-- supplied (API roles cannot name the column at all: no column grant). Writing an embedding
-- stays the owner's alone: those policies still ask public.sessions.

-- On a live project, wait briefly for locks and then fail, rather than queue behind traffic.
-- The backfill and the index build read every embedding once: a minute at most.
set lock_timeout = '5s';
set statement_timeout = '60s';

alter table public.session_embeddings
  add column owner_id uuid;

comment on column public.session_embeddings.owner_id is
  'Copy of the session''s owner (sessions.user_id), kept by trigger: the search''s index.';

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
  owner_id = s.user_id
from public.sessions as s
where s.id = e.session_id;
alter table public.session_embeddings enable trigger session_embeddings_guard;

-- Backfilled above, in the same transaction that holds the table since the add column: the scan
-- this validation makes is the only one, and no writer can slip a null in between.
-- squawk-ignore adding-not-nullable-field
alter table public.session_embeddings alter column owner_id set not null;

-- One embedding per session, so this index has as many entries as there are embeddings; the
-- build holds off writes of embeddings (an embedding job, never a user's request) briefly.
-- squawk-ignore require-concurrent-index-creation
create index session_embeddings_owner_id_idx
  on public.session_embeddings using btree (owner_id);

create function private.copy_session_embedding_owner() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  select s.user_id into new.owner_id
    from public.sessions as s
   where s.id = new.session_id;
  return new;
end
$$;

revoke execute on function private.copy_session_embedding_owner() from public;

-- A session the caller may not read, or that does not exist, is refused by
-- session_embeddings_guard (a BEFORE trigger of the same event, running after this one in name
-- order): what this one read as the table's owner is then never written.
create trigger session_embeddings_200_copy_owner
  before insert or update on public.session_embeddings
  for each row execute function private.copy_session_embedding_owner();

-- Reading an embedding: its session's owner, from the copy, or a user the session is shared
-- with, from session_shares.
alter policy session_embeddings_select_readable on public.session_embeddings
  using (
    owner_id = (select auth.uid())
    or session_id = any(array(select private.shared_session_ids()))
  );
