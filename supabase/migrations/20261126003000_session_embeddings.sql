-- Why: semantic search over IRs needs an embedding of each session's IR. It lives in its own
-- table, not in a column of public.sessions, because:
--   * sessions rows are rewritten on every IR edit, status change and metadata change; with the
--     vector in the same row, every such non-HOT update would insert a new entry into the HNSW
--     graph (an expensive insert) and leave a dead one behind, and every read of a session would
--     carry a 6 KB vector it does not need;
--   * embeddings are written by whatever computes them (an embedding job, later than the IR), with
--     their own model name and the IR version they were computed from, so their lifecycle and
--     their write rules are not the session's;
--   * read access can simply follow the session: the select policy below asks sessions' own RLS
--     whether the caller may read the session, so whoever a later policy on sessions lets read
--     a session (a viewer it was shared with) can search its embedding too, with no change here.
--
-- The dimension, 1536, is written once: in the type of the embedding column. public.match_sessions
-- reads it from this column, so changing the model's dimension is one `alter column … type`.
-- Cosine distance is the search's measure, hence the HNSW operator class vector_cosine_ops. HNSW
-- needs no training, so unlike IVFFlat it is sound to build on an empty table.
--
-- Staleness: ir_version is the session IR version the embedding was computed from, given by the
-- writer (it read that version and embedded it; a default of "the current version" would let a
-- late write of an old IR pass as fresh). When the session's IR moves on, the embedding is stale:
-- public.session_embedding_status and public.match_sessions show it. An embedding never moves
-- back to an older IR version: a slow writer finishing after a faster one gets PT409.

-- On a live project, wait briefly for locks (auth.users, referenced tables) and then fail, rather
-- than queue behind traffic and block it; the file rolls back whole and can simply be re-run.
-- Session-level on purpose: the CLI pipelines a file without a transaction block, where SET
-- LOCAL does nothing, and both the CLI and lift-db run RESET ALL between files.
set lock_timeout = '5s';
set statement_timeout = '60s';

create table public.session_embeddings (
  session_id uuid primary key references public.sessions (id) on delete cascade,
  embedding extensions.vector(1536) not null,
  model text not null,
  -- Mirrors sessions.ir_version, which is an integer.
  -- squawk-ignore prefer-bigint-over-int
  ir_version integer not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- Cosine similarity is undefined for the zero vector, and HNSW's cosine operator class leaves
  -- zero vectors out of the index.
  constraint session_embeddings_embedding_not_zero check (
    extensions.vector_norm(embedding) > 0
  ),
  constraint session_embeddings_model_not_blank check (model ~ '\S'),
  constraint session_embeddings_model_length check (char_length(model) <= 200),
  constraint session_embeddings_ir_version_positive check (ir_version >= 1)
);

comment on table public.session_embeddings is
  'One embedding of a session''s IR (cosine similarity search), with the model that computed it '
  'and the IR version it was computed from.';
comment on column public.session_embeddings.embedding is
  'The IR''s embedding. Its dimension (the type''s modifier) is the one every query must have.';
comment on column public.session_embeddings.ir_version is
  'The sessions.ir_version the embedding was computed from; older than the session''s: stale.';

-- The primary key covers the foreign key. m and ef_construction are pgvector's defaults, stated
-- so that a change to them is a visible decision.
create index session_embeddings_embedding_idx
  on public.session_embeddings
  using hnsw (embedding extensions.vector_cosine_ops)
  with (m = 16, ef_construction = 64);

-- API access: reading goes with reading the session; only the session's owner writes its
-- embedding, and never the database-owned timestamps or the session it belongs to. anon gets
-- nothing.
revoke all on table public.session_embeddings from anon, authenticated, service_role;
grant select, delete on table public.session_embeddings to authenticated;
grant insert (session_id, embedding, model, ir_version) on table public.session_embeddings
  to authenticated;
grant update (embedding, model, ir_version) on table public.session_embeddings to authenticated;
grant select, insert, update, delete on table public.session_embeddings to service_role;

alter table public.session_embeddings enable row level security;

-- No auth.uid() here on purpose: the subquery runs under public.sessions' RLS, so "the caller
-- may read this session" is decided in one place, by the policies of sessions.
create policy session_embeddings_select_readable on public.session_embeddings
  for select
  to authenticated
  using (
    exists (
      select 1
        from public.sessions as s
       where s.id = session_embeddings.session_id
    )
  );

-- Writing is the owner's alone, even once others may read the session.
create policy session_embeddings_insert_own on public.session_embeddings
  for insert
  to authenticated
  with check (
    exists (
      select 1
        from public.sessions as s
       where s.id = session_embeddings.session_id
         and s.user_id = (select auth.uid())
    )
  );

create policy session_embeddings_update_own on public.session_embeddings
  for update
  to authenticated
  using (
    exists (
      select 1
        from public.sessions as s
       where s.id = session_embeddings.session_id
         and s.user_id = (select auth.uid())
    )
  )
  with check (
    exists (
      select 1
        from public.sessions as s
       where s.id = session_embeddings.session_id
         and s.user_id = (select auth.uid())
    )
  );

create policy session_embeddings_delete_own on public.session_embeddings
  for delete
  to authenticated
  using (
    exists (
      select 1
        from public.sessions as s
       where s.id = session_embeddings.session_id
         and s.user_id = (select auth.uid())
    )
  );

-- Runs as the caller, so "the session" is one the caller can read (service_role: any). It names
-- what is wrong before RLS or the foreign key would answer with a generic error: an unknown
-- session (or another user's) and an IR version the session never had are PT404, as in
-- public.rollback_session. Column grants stop API users from moving an embedding to another
-- session or rewriting created_at; this stops everyone else too.
create function private.guard_session_embedding() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  current_version integer;
begin
  if tg_op = 'UPDATE' then
    if new.session_id <> old.session_id then
      raise exception 'an embedding cannot move to another session'
        using errcode = '42501';
    end if;
    if new.created_at <> old.created_at then
      raise exception 'created_at is maintained by the database'
        using errcode = '428C9';
    end if;
    if new.ir_version < old.ir_version then
      raise exception
        'embedding version conflict on session %: it was computed from ir version %, '
        'newer than version %', new.session_id, old.ir_version, new.ir_version
        using errcode = 'PT409',
              detail = format('current_version=%s', old.ir_version),
              hint = 'embed the session''s current IR, or leave the newer embedding in place';
    end if;
  end if;

  -- Named here: for an API user, RLS would refuse a null session before its constraint could.
  if new.session_id is null then
    raise exception 'session_id must not be null' using errcode = '22004';
  end if;
  -- The not-null constraint names it.
  if new.ir_version is null then
    return new;
  end if;
  select s.ir_version into current_version
    from public.sessions as s
   where s.id = new.session_id;
  if not found then
    raise exception 'session % not found', new.session_id
      using errcode = 'PT404',
            hint = 'the session does not exist or belongs to another user';
  end if;
  if new.ir_version < 1 or new.ir_version > current_version then
    raise exception 'session % has no ir version %', new.session_id, new.ir_version
      using errcode = 'PT404',
            detail = format('its latest version is %s', current_version),
            hint = 'an embedding is computed from one of the session''s IR versions';
  end if;

  if tg_op = 'INSERT' then
    new.updated_at := new.created_at;
  else
    new.updated_at := now();
  end if;
  return new;
end
$$;

revoke execute on function private.guard_session_embedding() from public;

create trigger session_embeddings_guard
  before insert or update on public.session_embeddings
  for each row execute function private.guard_session_embedding();
