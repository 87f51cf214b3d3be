-- Why: SECURITY DEFINER functions (triggers that write on the caller's behalf) must live where the
-- API cannot reach them. The API exposes `public` only (supabase/config.toml [api] schemas), so
-- schema `private` holds them; no API role gets usage on it, and functions created here are not
-- executable by PUBLIC unless a migration grants it next to the function.
create schema if not exists private;

revoke all on schema private from public;
revoke all on schema private from anon, authenticated, service_role;

alter default privileges for role postgres in schema private
  revoke execute on functions from public;
