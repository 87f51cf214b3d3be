-- The test helpers, part 1 of 3: who a test acts as. The three setup files install the helpers
-- every other test file calls, in schema `tests` (the API does not expose it, and no migration
-- ships it):
--   000_setup_identity.sql        users, and acting as a user, anon, service_role or nobody
--   001_setup_fixtures.sql        scene builders (sessions, shares, embeddings) and digests
--   002_setup_catalog_guards.sql  functions that list the objects breaking a schema rule
-- They sort first, so `supabase test db` (pg_prove, alphabetical, one session per file) runs them
-- before the rest, and they commit the helpers on purpose, outside the rolled-back transaction
-- at their end. 999_teardown_test_helpers.sql, which sorts last, drops schema `tests` again: a
-- run leaves nothing behind. This file starts clean; the other two add to the schema it makes.
-- The helpers are tested in 005_helpers_identity.sql, 006_helpers_fixtures.sql and
-- 007_helpers_catalog_guards.sql (and each guard against bad objects in 010_catalog_guards.sql).
create extension if not exists pgtap with schema extensions;

-- Start clean: a run that was cut short may have left helpers of another version behind.
drop schema if exists tests cascade;
create schema tests;
-- The tests switch to these roles and call the helpers as them; nobody else needs them.
revoke all on schema tests from public;
grant usage on schema tests to anon, authenticated, service_role;

-- tests.create_supabase_user(identifier, email, provider) -> uuid
-- Signs up a user: a row in auth.users as GoTrue writes it (Auth's trigger then creates the
-- profile), with `identifier` stored in its metadata so that tests name the user by it. The email
-- defaults to <identifier>@test.lift-sys.dev, the provider to 'email'. Returns the user's id.
-- Use it to set the scene, before acting as anyone: every user a test acts as starts here.
create or replace function tests.create_supabase_user(
  identifier pg_catalog.text,
  email pg_catalog.text default null,
  provider pg_catalog.text default 'email'
) returns pg_catalog.uuid
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  user_id pg_catalog.uuid := pg_catalog.gen_random_uuid();
begin
  insert into auth.users (
    id, aud, role, email, raw_app_meta_data, raw_user_meta_data, created_at, updated_at
  ) values (
    user_id,
    'authenticated',
    'authenticated',
    coalesce(email, identifier || '@test.lift-sys.dev'),
    pg_catalog.jsonb_build_object('provider', provider,
                                  'providers', pg_catalog.jsonb_build_array(provider)),
    pg_catalog.jsonb_build_object('test_identifier', identifier),
    pg_catalog.now(),
    pg_catalog.now()
  );
  return user_id;
end
$$;

-- tests.get_supabase_uid(identifier) -> uuid
-- The id of the test user with this identifier (null if there is none), whoever is acting. Use
-- it wherever a statement needs a user's id: a foreign key, an expected owner, a share.
create or replace function tests.get_supabase_uid(identifier pg_catalog.text)
returns pg_catalog.uuid
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select u.id
    from auth.users as u
   where u.raw_user_meta_data operator(pg_catalog.->>) 'test_identifier' = identifier
   limit 1
$$;

-- tests.authenticate_as(identifier)
-- Acts as the signed-in test user for the rest of the transaction, as PostgREST does for a
-- request with that user's token: role `authenticated` and JWT claims whose `sub` is the user's
-- id, so that auth.uid() returns it. Raises if no such test user exists. Use it before every
-- statement that RLS must judge as that user.
create or replace function tests.authenticate_as(identifier text) returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  user_id uuid := tests.get_supabase_uid(identifier);
begin
  if user_id is null then
    raise exception 'tests.authenticate_as: no test user %', identifier;
  end if;
  perform set_config(
    'request.jwt.claims',
    jsonb_build_object('sub', user_id, 'role', 'authenticated',
                       'email', identifier || '@test.lift-sys.dev')::text,
    true
  );
  perform set_config('role', 'authenticated', true);
end
$$;

-- tests.authenticate_as_anon()
-- Acts as a caller without a token for the rest of the transaction: role `anon`, claims
-- {"role": "anon"}, no auth.uid(). Use it to prove that anon is refused.
create or replace function tests.authenticate_as_anon() returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  perform set_config('request.jwt.claims', '{"role": "anon"}', true);
  perform set_config('role', 'anon', true);
end
$$;

-- tests.authenticate_as_service_role()
-- Acts as the server's secret key for the rest of the transaction: role `service_role`, which
-- bypasses RLS, with claims {"role": "service_role"} and no auth.uid(). Use it to prove what the
-- server may do and what not even it may do.
create or replace function tests.authenticate_as_service_role() returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  perform set_config('request.jwt.claims', '{"role": "service_role"}', true);
  perform set_config('role', 'service_role', true);
end
$$;

-- tests.clear_authentication()
-- Back to the session's own role (postgres, the owner of the tables) with no claims. Use it to
-- set more of the scene, or to read what really is in a table, after acting as someone.
create or replace function tests.clear_authentication() returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  perform set_config('request.jwt.claims', '', true);
  perform set_config('role', 'none', true);
end
$$;

revoke execute on all functions in schema tests from public;
grant execute on all functions in schema tests to anon, authenticated, service_role;

-- The names and signatures every test file calls (what they do: 005_helpers_identity.sql).
begin;
select plan(6);

select has_function('tests', 'create_supabase_user', array['text', 'text', 'text']);
select has_function('tests', 'get_supabase_uid', array['text']);
select has_function('tests', 'authenticate_as', array['text']);
select has_function('tests', 'authenticate_as_anon', array[]::text[]);
select has_function('tests', 'authenticate_as_service_role', array[]::text[]);
select has_function('tests', 'clear_authentication', array[]::text[]);

select * from finish();
rollback;
