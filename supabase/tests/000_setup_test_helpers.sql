-- Installs pgTAP and the identity helpers every other test file uses. It sorts first, so
-- `supabase test db` (pg_prove, alphabetical) runs it before the rest; the helpers are
-- committed on purpose, outside the rolled-back test transaction below. They live in schema
-- `tests`, which the API does not expose, and never ship in a migration.
create extension if not exists pgtap with schema extensions;

create schema if not exists tests;
grant usage on schema tests to anon, authenticated, service_role;

-- A user in auth.users, as GoTrue would create it; the identifier names it in tests.
create or replace function tests.create_supabase_user(
  identifier text,
  email text default null,
  provider text default 'email'
) returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  user_id uuid := gen_random_uuid();
begin
  insert into auth.users (
    id, aud, role, email, raw_app_meta_data, raw_user_meta_data, created_at, updated_at
  ) values (
    user_id,
    'authenticated',
    'authenticated',
    coalesce(email, identifier || '@test.lift-sys.dev'),
    jsonb_build_object('provider', provider, 'providers', jsonb_build_array(provider)),
    jsonb_build_object('test_identifier', identifier),
    now(),
    now()
  );
  return user_id;
end
$$;

create or replace function tests.get_supabase_uid(identifier text) returns uuid
language sql
stable
security definer
set search_path = ''
as $$
  select u.id
    from auth.users as u
   where u.raw_user_meta_data ->> 'test_identifier' = identifier
   limit 1
$$;

-- Act as a signed-in user for the rest of the transaction, the way PostgREST does per request.
create or replace function tests.authenticate_as(identifier text) returns void
language plpgsql
set search_path = ''
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

create or replace function tests.authenticate_as_anon() returns void
language plpgsql
set search_path = ''
as $$
begin
  perform set_config('request.jwt.claims', '{"role": "anon"}', true);
  perform set_config('role', 'anon', true);
end
$$;

create or replace function tests.authenticate_as_service_role() returns void
language plpgsql
set search_path = ''
as $$
begin
  perform set_config('request.jwt.claims', '{"role": "service_role"}', true);
  perform set_config('role', 'service_role', true);
end
$$;

-- Back to the session's own role (postgres) with no claims.
create or replace function tests.clear_authentication() returns void
language plpgsql
set search_path = ''
as $$
begin
  perform set_config('request.jwt.claims', '', true);
  perform set_config('role', 'none', true);
end
$$;

grant execute on all functions in schema tests to anon, authenticated, service_role;

begin;
select plan(6);

select has_function('tests', 'create_supabase_user', array['text', 'text', 'text']);
select has_function('tests', 'authenticate_as', array['text']);

select tests.create_supabase_user('helper_probe');
select tests.authenticate_as('helper_probe');
select is(auth.uid(), tests.get_supabase_uid('helper_probe'), 'authenticate_as sets auth.uid()');
select is(current_user::text, 'authenticated', 'authenticate_as switches to authenticated');
select tests.authenticate_as_anon();
select is(auth.uid(), null, 'anon has no uid');
select tests.clear_authentication();
select is(current_user::text, 'postgres', 'clear_authentication returns to postgres');

select * from finish();
rollback;
