-- Why: clients need two IR operations the table alone cannot express safely: an update that
-- fails instead of overwriting when someone else wrote first (optimistic concurrency), and a
-- rollback that restores an old version without rewriting history. Both are SECURITY INVOKER,
-- so the caller's RLS applies: a session that is not the caller's does not exist for them.
--
-- Called through the API as RPC (POST /rest/v1/rpc/update_session_ir with
-- {"session_id", "ir", "expected_version", "change_description"}) or from SQL.
--
-- Errors (SQLSTATE, message):
--   PT409  ir version conflict on session <id>: expected version <n>, current version is <m>
--          (the version the caller read is stale; nothing was written). PostgREST answers 409.
--   PT404  session <id> not found  (missing, or another user's)            PostgREST: 404
--   PT404  session <id> has no version <n>                                 PostgREST: 404
--   22004  <argument> must not be null;  22023  invalid argument value
-- An error aborts the statement: no version, no history row, no change.

-- On a live project, wait briefly for locks (auth.users, referenced tables) and then fail, rather
-- than queue behind traffic and block it; the file rolls back whole and can simply be re-run.
-- Session-level on purpose: the CLI pipelines a file without a transaction block, where SET
-- LOCAL does nothing, and both the CLI and lift-db run RESET ALL between files.
set lock_timeout = '5s';
set statement_timeout = '60s';

create function public.update_session_ir(
  session_id uuid,
  ir jsonb,
  expected_version integer default null,
  change_description text default null
) returns public.sessions
language plpgsql
security invoker
set search_path = ''
as $$
declare
  locked public.sessions;
  updated public.sessions;
begin
  if update_session_ir.session_id is null then
    raise exception 'session_id must not be null' using errcode = '22004';
  end if;
  if update_session_ir.ir is null then
    raise exception 'ir must not be null' using errcode = '22004';
  end if;
  if jsonb_typeof(update_session_ir.ir) <> 'object' then
    raise exception 'ir must be a JSON object, not %', jsonb_typeof(update_session_ir.ir)
      using errcode = '22023';
  end if;
  if update_session_ir.expected_version < 0 then
    raise exception 'expected_version must be 0 or more, not %', update_session_ir.expected_version
      using errcode = '22023';
  end if;
  if char_length(update_session_ir.change_description) > 1000 then
    raise exception 'change_description is longer than 1000 characters'
      using errcode = '22023';
  end if;

  -- The row lock makes the version check and the write one step: a concurrent writer waits
  -- here and then sees the version the first one wrote.
  select s.* into locked
    from public.sessions as s
   where s.id = update_session_ir.session_id
     for update;
  if not found then
    raise exception 'session % not found', update_session_ir.session_id
      using errcode = 'PT404',
            hint = 'the session does not exist or belongs to another user';
  end if;
  if update_session_ir.expected_version is not null
     and locked.ir_version <> update_session_ir.expected_version then
    raise exception 'ir version conflict on session %: expected version %, current version is %',
      update_session_ir.session_id, update_session_ir.expected_version, locked.ir_version
      using errcode = 'PT409',
            detail = format('current_version=%s', locked.ir_version),
            hint = 'read the session again and apply the change to its current IR';
  end if;

  perform set_config('lift.change_description',
                     coalesce(update_session_ir.change_description, ''), true);
  update public.sessions as s
     set current_ir = update_session_ir.ir
   where s.id = update_session_ir.session_id
  returning s.* into updated;
  perform set_config('lift.change_description', '', true);
  return updated;
end
$$;

comment on function public.update_session_ir(uuid, jsonb, integer, text) is
  'Writes a new IR version. expected_version: the ir_version the caller read (null: no check); '
  'stale -> SQLSTATE PT409. change_description is stored with the version.';

revoke execute on function public.update_session_ir(uuid, jsonb, integer, text)
  from public, anon;
grant execute on function public.update_session_ir(uuid, jsonb, integer, text)
  to authenticated, service_role;

create function public.rollback_session(
  session_id uuid,
  to_version integer,
  expected_version integer default null,
  change_description text default null
) returns public.sessions
language plpgsql
security invoker
set search_path = ''
as $$
declare
  locked public.sessions;
  snapshot jsonb;
begin
  if rollback_session.session_id is null then
    raise exception 'session_id must not be null' using errcode = '22004';
  end if;
  if rollback_session.to_version is null then
    raise exception 'to_version must not be null' using errcode = '22004';
  end if;

  select s.* into locked
    from public.sessions as s
   where s.id = rollback_session.session_id
     for update;
  if not found then
    raise exception 'session % not found', rollback_session.session_id
      using errcode = 'PT404',
            hint = 'the session does not exist or belongs to another user';
  end if;

  select h.ir_snapshot into snapshot
    from public.session_history as h
   where h.session_id = rollback_session.session_id
     and h.version = rollback_session.to_version;
  if not found then
    raise exception 'session % has no version %', rollback_session.session_id,
      rollback_session.to_version
      using errcode = 'PT404',
            detail = format('its latest version is %s', locked.ir_version);
  end if;

  return public.update_session_ir(
    rollback_session.session_id,
    snapshot,
    rollback_session.expected_version,
    coalesce(rollback_session.change_description,
             format('rollback to version %s', rollback_session.to_version))
  );
end
$$;

comment on function public.rollback_session(uuid, integer, integer, text) is
  'Restores version to_version as a new version (history is never rewritten). '
  'Errors: PT404 unknown session or version, PT409 stale expected_version.';

revoke execute on function public.rollback_session(uuid, integer, integer, text)
  from public, anon;
grant execute on function public.rollback_session(uuid, integer, integer, text)
  to authenticated, service_role;
