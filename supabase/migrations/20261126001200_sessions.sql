-- Why: a PromptSession (the user's prompt, its current IR and the typed holes and assists around
-- it) must survive restarts and belong to exactly one user. Every session has an owner (the
-- caller by default), a status from a fixed set, a bounded non-blank prompt, and IR and metadata
-- that are JSON objects. The database owns ir_version, created_at and updated_at: the IR history
-- migration bumps ir_version, and no caller can set any of them.

-- On a live project, wait briefly for locks (auth.users, referenced tables) and then fail, rather
-- than queue behind traffic and block it; the file rolls back whole and can simply be re-run.
-- Session-level on purpose: the CLI pipelines a file without a transaction block, where SET
-- LOCAL does nothing, and both the CLI and lift-db run RESET ALL between files.
set lock_timeout = '5s';
set statement_timeout = '60s';

create table public.sessions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references public.users (id) on delete cascade,
  prompt text not null,
  status text not null default 'active',
  -- One version per IR edit: 2^31 is out of reach, so integer is enough.
  -- squawk-ignore prefer-bigint-over-int
  ir_version integer not null default 0,
  current_ir jsonb,
  metadata jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint sessions_status_valid check (status in ('active', 'finalized', 'abandoned')),
  constraint sessions_prompt_not_blank check (prompt ~ '\S'),
  constraint sessions_prompt_length check (char_length(prompt) <= 20000),
  constraint sessions_ir_version_not_negative check (ir_version >= 0),
  constraint sessions_current_ir_object check (
    current_ir is null or jsonb_typeof(current_ir) = 'object'
  ),
  constraint sessions_metadata_object check (jsonb_typeof(metadata) = 'object')
);

comment on table public.sessions is
  'PromptSessions: one user''s prompt, its current IR and the holes and assists around it.';
comment on column public.sessions.ir_version is
  'Number of IR versions written (0: no IR yet); maintained by the database.';
comment on column public.sessions.metadata is
  'JSON object with the session''s typed holes and assists.';

-- The app lists a user's sessions by status, newest first (the leading user_id also serves the
-- policies and the foreign key), and all of a user's sessions newest first. Status and
-- created_at alone serve server-side queries across users (service_role).
create index sessions_user_id_status_created_at_idx
  on public.sessions (user_id, status, created_at desc);
create index sessions_user_id_created_at_idx on public.sessions (user_id, created_at desc);
create index sessions_status_idx on public.sessions (status);
create index sessions_created_at_idx on public.sessions (created_at desc);

-- API access: owners do everything to their own sessions through RLS; column grants keep
-- ownership and the database-owned columns out of reach. anon gets nothing.
revoke all on table public.sessions from anon, authenticated, service_role;
grant select, delete on table public.sessions to authenticated;
grant insert (id, user_id, prompt, status, current_ir, metadata) on table public.sessions
  to authenticated;
grant update (prompt, status, current_ir, metadata) on table public.sessions to authenticated;
grant select, insert, update, delete on table public.sessions to service_role;

alter table public.sessions enable row level security;

create policy sessions_select_own on public.sessions
  for select
  to authenticated
  using (user_id = (select auth.uid()));

create policy sessions_insert_own on public.sessions
  for insert
  to authenticated
  with check (user_id = (select auth.uid()));

create policy sessions_update_own on public.sessions
  for update
  to authenticated
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()));

create policy sessions_delete_own on public.sessions
  for delete
  to authenticated
  using (user_id = (select auth.uid()));

-- Column grants stop API users; this stops everyone else (service_role, direct SQL): a session
-- never changes owner or id, ir_version moves only through the IR history trigger, and the
-- timestamps are the database's.
create function private.guard_session_columns() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    if new.ir_version <> 0 then
      raise exception 'ir_version is maintained by the database'
        using errcode = '428C9',
              hint = 'leave ir_version out: writing current_ir creates version 1';
    end if;
    new.updated_at := new.created_at;
    return new;
  end if;
  if new.id <> old.id or new.user_id <> old.user_id then
    raise exception 'a session cannot change its id or owner'
      using errcode = '42501';
  end if;
  if new.ir_version <> old.ir_version then
    raise exception 'ir_version is maintained by the database'
      using errcode = '428C9',
            hint = 'change current_ir (or call public.update_session_ir) to write a new version';
  end if;
  if new.created_at <> old.created_at then
    raise exception 'created_at is maintained by the database'
      using errcode = '428C9';
  end if;
  new.updated_at := now();
  return new;
end
$$;

revoke execute on function private.guard_session_columns() from public;

-- Named to fire before the IR history trigger (same-event triggers fire in name order).
create trigger sessions_guard_columns
  before insert or update on public.sessions
  for each row execute function private.guard_session_columns();
