-- Why: SECURITY DEFINER functions (triggers that write on the caller's behalf) must live where the
-- API cannot reach them. The API exposes `public` only (supabase/config.toml [api] schemas), so
-- schema `private` holds them; no API role gets usage on it, and functions created here are not
-- executable by PUBLIC unless a migration grants it next to the function.

-- On a live project, wait briefly for locks (auth.users, referenced tables) and then fail, rather
-- than queue behind traffic and block it; the file rolls back whole and can simply be re-run.
-- Session-level on purpose: the CLI pipelines a file without a transaction block, where SET
-- LOCAL does nothing, and both the CLI and lift-db run RESET ALL between files.
set lock_timeout = '5s';
set statement_timeout = '60s';

create schema if not exists private;

revoke all on schema private from public;
revoke all on schema private from anon, authenticated, service_role;

alter default privileges for role postgres in schema private
  revoke execute on functions from public;
