-- Why: every IR a session has had must stay available for rollback, and recording it cannot be
-- left to a second client call (two writers race for the same version; a crash between the calls
-- loses the version). Here the database itself versions the IR: any statement that writes
-- sessions.current_ir gets ir_version + 1 and a session_history row in the same statement. The
-- row lock the UPDATE takes on the session serialises writers, so versions run 1, 2, 3… with no
-- gap or duplicate whatever the concurrency, and the primary key (session_id, version) would
-- refuse a duplicate anyway.
--
-- A version is written whenever current_ir is assigned (it appears in the UPDATE's SET list or
-- the INSERT gives it), even to an equal value: an explicit write, a rollback included, is always
-- recorded. Changing only status, prompt or metadata writes no version.
--
-- Change description: the recorder reads the transaction setting `lift.change_description`.
-- public.update_session_ir(…, change_description) sets it for the caller; a direct-SQL client can
-- run `select set_config('lift.change_description', 'what changed', true)` before its UPDATE in
-- the same transaction. An empty or missing setting records no description.

-- On a live project, wait briefly for locks (auth.users, referenced tables) and then fail, rather
-- than queue behind traffic and block it; the file rolls back whole and can simply be re-run.
-- Session-level on purpose: the CLI pipelines a file without a transaction block, where SET
-- LOCAL does nothing, and both the CLI and lift-db run RESET ALL between files.
set lock_timeout = '5s';
set statement_timeout = '60s';

create table public.session_history (
  session_id uuid not null references public.sessions (id) on delete cascade,
  -- Same type as sessions.ir_version, which it mirrors.
  -- squawk-ignore prefer-bigint-over-int
  version integer not null,
  ir_snapshot jsonb not null,
  change_description text,
  created_at timestamptz not null default now(),
  constraint session_history_pkey primary key (session_id, version),
  constraint session_history_version_positive check (version >= 1),
  constraint session_history_ir_snapshot_object check (jsonb_typeof(ir_snapshot) = 'object'),
  constraint session_history_change_description_length check (
    char_length(change_description) <= 1000
  )
);

comment on table public.session_history is
  'Append-only record of every IR of a session, written by the database; version 1, 2, 3…';

-- The primary key (session_id, version) is the index a session's history by version needs; it
-- also covers the foreign key.

-- API access: owners read their sessions' history; nobody writes it through the API, not even
-- service_role: only the trigger below (running as the table owner) does. anon gets nothing.
revoke all on table public.session_history from anon, authenticated, service_role;
grant select on table public.session_history to authenticated, service_role;

alter table public.session_history enable row level security;

create policy session_history_select_own on public.session_history
  for select
  to authenticated
  using (
    session_id in (
      select s.id
        from public.sessions as s
       where s.user_id = (select auth.uid())
    )
  );

-- Runs as the caller and touches no table: it only computes the new version number.
create function private.version_session_ir() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    if new.current_ir is not null then
      new.ir_version := 1;
    end if;
    return new;
  end if;
  if new.current_ir is null then
    if old.current_ir is not null then
      raise exception 'current_ir cannot be removed once a session has an IR'
        using errcode = '22004',
              hint = 'write a new IR or roll back to an earlier version';
    end if;
    return new;
  end if;
  new.ir_version := old.ir_version + 1;
  return new;
end
$$;

revoke execute on function private.version_session_ir() from public;

create trigger sessions_version_ir
  before insert or update of current_ir on public.sessions
  for each row execute function private.version_session_ir();

-- SECURITY DEFINER because callers have no write privilege on session_history; it writes
-- exactly the row the versioning trigger decided on, nothing a caller can choose but the
-- description.
create function private.record_session_history() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.current_ir is null or (tg_op = 'UPDATE' and new.ir_version = old.ir_version) then
    return null;
  end if;
  insert into public.session_history (session_id, version, ir_snapshot, change_description)
  values (
    new.id,
    new.ir_version,
    new.current_ir,
    nullif(current_setting('lift.change_description', true), '')
  );
  return null;
end
$$;

revoke execute on function private.record_session_history() from public;

create trigger sessions_record_history
  after insert or update of current_ir on public.sessions
  for each row execute function private.record_session_history();

-- History is never rewritten, whoever asks; rows go only with their session (on delete cascade).
create function private.refuse_history_update() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'session history is append-only'
    using errcode = '42501',
          hint = 'roll back with public.rollback_session, which writes a new version';
end
$$;

revoke execute on function private.refuse_history_update() from public;

create trigger session_history_append_only
  before update on public.session_history
  for each row execute function private.refuse_history_update();
