-- Why: measured by `make bench` at 100,000 sessions, the shared-access policies of the sharing
-- migration made every query without its own user_id filter walk all sessions: the planner
-- cannot turn `user_id = … or id in (select …)` into index lookups, so it checks the OR row by
-- row (39 ms per list, 296 ms at 300,000 sessions; vector search through RLS paid the same).
-- `id = any (array (select …))` means the same set, but the caller's shared ids are computed
-- once into an array, which the planner can use. History is read through sessions' own policy
-- (exists … sessions), which was measured faster than collecting every readable id per query.
-- Who may read or write what does not change; only how the database checks it. Policy names
-- stay, so the pgTAP matrices pin the same rules.

-- On a live project, wait briefly for locks and then fail, rather than queue behind traffic.
set lock_timeout = '5s';
set statement_timeout = '60s';

alter policy sessions_select_own_or_shared on public.sessions
  using (
    user_id = (select auth.uid())
    or id = any(array(select private.shared_session_ids()))
  );

alter policy sessions_update_own_or_editor on public.sessions
  using (
    user_id = (select auth.uid())
    or id = any(array(select private.shared_session_ids('editor')))
  )
  with check (
    user_id = (select auth.uid())
    or id = any(array(select private.shared_session_ids('editor')))
  );

-- public.sessions' select policy decides; sessions' policies never read session_history, so
-- this cannot recurse.
alter policy session_history_select_readable on public.session_history
  using (
    exists (
      select 1
        from public.sessions as s
       where s.id = session_history.session_id
    )
  );
