-- Why: a share must actually open the session to its grantee, and no further. Until now the
-- policies of public.sessions and public.session_history admitted the owner alone. Here:
--
--   viewer  reads the session and its history (SELECT policies below);
--   editor  also writes the IR: public.update_session_ir, public.rollback_session or a plain
--           UPDATE of current_ir. Both functions lock the row with SELECT … FOR UPDATE, which
--           needs the UPDATE policy too, so the UPDATE policy admits editors;
--   owner   everything, as before: insert and delete stay owner-only, and so do shares.
--
-- What an editor may change is narrower than what the column grants of `authenticated` allow
-- (prompt, status, current_ir, metadata), and a policy cannot compare a row with its old
-- version. So a BEFORE UPDATE trigger refuses, for any signed-in caller who is not the owner,
-- every change but the IR: status, prompt and metadata (holes, assists) stay the owner's. The
-- owner column and the database-owned columns keep the guard of the sessions migration, which
-- holds for everyone.
--
-- The policies reach session_shares only through the helpers of the session_shares migration
-- (SECURITY DEFINER, schema private), which is what keeps sessions → session_shares → sessions
-- from recursing. A revoked share is gone from the next statement on.

-- On a live project, wait briefly for locks and then fail, rather than queue behind traffic and
-- block it; the file rolls back whole and can simply be re-run. Session-level on purpose: the CLI
-- pipelines a file without a transaction block, where SET LOCAL does nothing, and both the CLI
-- and lift-db run RESET ALL between files.
set lock_timeout = '5s';
set statement_timeout = '60s';

-- Replaced rather than added to: two permissive policies for one action would both be evaluated
-- on every row (and each would widen access on its own).
drop policy sessions_select_own on public.sessions;
create policy sessions_select_own_or_shared on public.sessions
  for select
  to authenticated
  using (
    user_id = (select auth.uid())
    or id in (select private.shared_session_ids())
  );

drop policy sessions_update_own on public.sessions;
create policy sessions_update_own_or_editor on public.sessions
  for update
  to authenticated
  using (
    user_id = (select auth.uid())
    or id in (select private.shared_session_ids('editor'))
  )
  with check (
    user_id = (select auth.uid())
    or id in (select private.shared_session_ids('editor'))
  );

drop policy session_history_select_own on public.session_history;
create policy session_history_select_readable on public.session_history
  for select
  to authenticated
  using (session_id in (select private.readable_session_ids()));

-- Runs as the caller. service_role and direct SQL (no auth.uid()) are trusted and pass; for a
-- signed-in caller RLS has already limited the rows to those they own or edit.
create function private.guard_shared_session_edit() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  caller uuid := (select auth.uid());
begin
  if caller is null or caller = old.user_id then
    return new;
  end if;
  if new.status is distinct from old.status then
    raise exception 'only the owner of session % can change its status', old.id
      using errcode = '42501', hint = 'an editor may change the IR only';
  end if;
  if new.prompt is distinct from old.prompt then
    raise exception 'only the owner of session % can change its prompt', old.id
      using errcode = '42501', hint = 'an editor may change the IR only';
  end if;
  if new.metadata is distinct from old.metadata then
    raise exception 'only the owner of session % can change its holes and assists', old.id
      using errcode = '42501', hint = 'an editor may change the IR only';
  end if;
  return new;
end
$$;

revoke execute on function private.guard_shared_session_edit() from public;

-- Sorts between sessions_guard_columns and sessions_version_ir (same-event triggers fire in name
-- order); it compares only columns those two leave alone, so the order is for readability.
create trigger sessions_guard_shared_edits
  before update on public.sessions
  for each row execute function private.guard_shared_session_edit();
