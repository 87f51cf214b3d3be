-- Why: the size caps bound each IR version (1 MiB), not how many versions a session collects.
-- An editor could append versions to the owner's session without end: storage the owner pays
-- for and a history that every read of it must carry. A session now holds at most
-- private.history_limits.max_versions versions (2,000 by default: interactive sessions reach
-- tens to hundreds; 2,000 × 1 MiB bounds a session's history at about 2 GiB in the worst case).
-- The next IR write (update, update_session_ir, rollback_session) is refused with SQLSTATE
-- 54000, for every writer, and nothing is written; an operator raises the bound with one UPDATE,
-- and the owner may also start a new session. Versions are numbered 1, 2, 3… without gaps, so
-- the check costs nothing: the new version number is the count.

-- On a live project, wait briefly for locks and then fail, rather than queue behind traffic.
set lock_timeout = '5s';
set statement_timeout = '60s';

create table private.history_limits (
  singleton boolean primary key default true,
  -- Versions are integers (sessions.ir_version).
  -- squawk-ignore prefer-bigint-over-int
  max_versions integer not null,
  constraint history_limits_one_row check (singleton),
  constraint history_limits_max_versions_positive check (max_versions >= 1)
);

comment on table private.history_limits is
  'How many IR versions one session may hold; one row, changed with one UPDATE.';

-- Operators' table: no API role reads or writes it.
revoke all on table private.history_limits from public, anon, authenticated, service_role;

insert into private.history_limits (max_versions) values (2000);

create or replace function private.record_session_history() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  limit_versions pg_catalog.int4 := (select l.max_versions from private.history_limits as l);
begin
  if new.current_ir is null or (tg_op = 'UPDATE' and new.ir_version = old.ir_version) then
    return null;
  end if;
  if new.ir_version > limit_versions then
    raise exception 'session % has % versions, its limit', new.id, limit_versions
      using errcode = '54000',
            detail = pg_catalog.format('versions=%s limit=%s', new.ir_version - 1,
                                       limit_versions),
            hint = 'start a new session; the limit is private.history_limits';
  end if;
  insert into public.session_history (session_id, version, ir_snapshot, change_description,
                                      author_id)
  values (
    new.id,
    new.ir_version,
    new.current_ir,
    nullif(pg_catalog.current_setting('lift.change_description', true), ''),
    (select auth.uid())
  );
  return null;
end
$$;
