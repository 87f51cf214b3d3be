-- Why: update_session_ir could report success and write nothing. It locks the session with
-- SELECT … FOR UPDATE and then writes it with UPDATE, and RLS judges each statement against the
-- shares as they stand when that statement starts. An editor whose call waited for the row lock
-- while the owner turned them into a viewer (or unshared the session) got the row locked under
-- the old share and then an UPDATE that matched no row under the new one: the function returned
-- an empty row, no version was written, and the caller (an RPC client counting on PT409 for
-- every write that did not land) took it for a write. It now checks that its UPDATE wrote the
-- row and otherwise fails as an unknown session does (PT404), writing nothing.
-- rollback_session writes through this function and inherits the check. CREATE OR REPLACE keeps
-- the function's grants and comment.

-- On a live project, wait briefly for locks (auth.users, referenced tables) and then fail, rather
-- than queue behind traffic and block it; the file rolls back whole and can simply be re-run.
-- Session-level on purpose: the CLI pipelines a file without a transaction block, where SET
-- LOCAL does nothing, and both the CLI and lift-db run RESET ALL between files.
set lock_timeout = '5s';
set statement_timeout = '60s';

create or replace function public.update_session_ir(
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
  -- The lock above saw the caller's right to write; this UPDATE judged it again, afresh.
  if not found then
    raise exception 'session % not found', update_session_ir.session_id
      using errcode = 'PT404',
            hint = 'the caller may no longer write this session (its share changed meanwhile)';
  end if;
  perform set_config('lift.change_description', '', true);
  return updated;
end
$$;
