-- Why: several tables below (preferences, shares, comments) carry an updated_at that callers must
-- not be able to backdate or forget. One trigger function stamps it on every update, whoever
-- writes (service_role and direct SQL included), so the column always tells when the row last
-- changed.

-- On a live project, wait briefly for locks and then fail, rather than queue behind traffic and
-- block it; the file rolls back whole and can simply be re-run. Session-level on purpose: the CLI
-- pipelines a file without a transaction block, where SET LOCAL does nothing, and both the CLI
-- and lift-db run RESET ALL between files.
set lock_timeout = '5s';
set statement_timeout = '60s';

-- Runs as the caller and touches no table.
create function private.touch_updated_at() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end
$$;

revoke execute on function private.touch_updated_at() from public;
