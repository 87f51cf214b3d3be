-- Platform layer: makes a plain PostgreSQL look like a Supabase database for everything the
-- project's migrations and tests touch. It is not a migration and never reaches a real Supabase
-- project, which has all of this already. Applied by a superuser; every statement is idempotent,
-- so applying it twice changes nothing.

-- Roles, with the attributes they have on the platform. Role definitions are cluster-wide.
-- Only missing roles are created, and none can log in: logins and their passwords are the local
-- server's alone (platform-local.sql), never given to a role on another database.
do $$
begin
  if not exists (select from pg_catalog.pg_roles where rolname = 'postgres') then
    create role postgres nologin nosuperuser createdb createrole replication bypassrls;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'anon') then
    create role anon nologin;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'authenticated') then
    create role authenticated nologin;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'authenticator') then
    create role authenticator nologin noinherit;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'supabase_auth_admin') then
    create role supabase_auth_admin nologin noinherit createrole;
  end if;
end
$$;

alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';
grant anon, authenticated, service_role to postgres;
grant anon, authenticated, service_role to authenticator;
grant supabase_auth_admin to postgres;
-- Unqualified names find extension objects (pgTAP's plan(), ok(), …) as they do on the platform.
alter role postgres set search_path = "$user", public, extensions;
alter role anon set search_path = "$user", public, extensions;
alter role authenticated set search_path = "$user", public, extensions;
alter role service_role set search_path = "$user", public, extensions;
alter role authenticator set search_path = "$user", public, extensions;

-- The database itself: `postgres` may create schemas (supabase_migrations, private helpers).
do $$
begin
  execute format('grant all on database %I to postgres', pg_catalog.current_database());
end
$$;

-- Schema extensions: where the platform installs every extension.
create schema if not exists extensions;
grant all on schema extensions to postgres with grant option;
grant usage on schema extensions to anon, authenticated, service_role;
alter default privileges in schema extensions
  grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges in schema extensions
  grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges in schema extensions
  grant all on sequences to postgres, anon, authenticated, service_role;

-- The platform lets `postgres` create pgvector (through supautils); plain PostgreSQL marks it
-- untrusted, so the layer prepares it and the migration's `create extension if not exists`
-- finds it in place.
create extension if not exists vector with schema extensions;

-- Schema public with Supabase's default privileges: every new table, function and sequence is
-- open to the API roles, so a table without RLS really is readable by anon, as it is there.
grant all on schema public to postgres with grant option;
grant usage on schema public to anon, authenticated, service_role;
alter default privileges for role postgres in schema public
  grant all on tables to anon, authenticated, service_role;
alter default privileges for role postgres in schema public
  grant all on functions to anon, authenticated, service_role;
alter default privileges for role postgres in schema public
  grant all on sequences to anon, authenticated, service_role;

-- Schema auth: the part of GoTrue's schema that the app's migrations reference.
create schema if not exists auth authorization supabase_auth_admin;
grant usage on schema auth to anon, authenticated, service_role;
grant all on schema auth to postgres;

create table if not exists auth.users (
  instance_id uuid,
  id uuid not null primary key,
  aud varchar(255),
  role varchar(255),
  email varchar(255),
  encrypted_password varchar(255),
  email_confirmed_at timestamptz,
  invited_at timestamptz,
  confirmation_token varchar(255),
  confirmation_sent_at timestamptz,
  recovery_token varchar(255),
  recovery_sent_at timestamptz,
  email_change varchar(255),
  email_change_sent_at timestamptz,
  last_sign_in_at timestamptz,
  raw_app_meta_data jsonb,
  raw_user_meta_data jsonb,
  is_super_admin boolean,
  created_at timestamptz,
  updated_at timestamptz,
  phone text unique default null,
  phone_confirmed_at timestamptz,
  confirmed_at timestamptz generated always as (least(email_confirmed_at, phone_confirmed_at))
  stored,
  banned_until timestamptz,
  deleted_at timestamptz,
  is_sso_user boolean not null default false,
  is_anonymous boolean not null default false
);
create index if not exists users_instance_id_idx on auth.users (instance_id);
alter table auth.users owner to supabase_auth_admin;

create table if not exists auth.identities (
  provider_id text not null,
  user_id uuid not null references auth.users (id) on delete cascade,
  identity_data jsonb not null,
  provider text not null,
  last_sign_in_at timestamptz,
  created_at timestamptz,
  updated_at timestamptz,
  email text generated always as (lower(identity_data ->> 'email')) stored,
  id uuid not null default gen_random_uuid() primary key,
  constraint identities_provider_id_provider_unique unique (provider_id, provider)
);
create index if not exists identities_user_id_idx on auth.identities (user_id);
alter table auth.identities owner to supabase_auth_admin;

grant all on auth.users, auth.identities to postgres;

-- JWT helpers with GoTrue's semantics and shape: `language sql stable` with no SET clause, as
-- Supabase Auth's own migrations define them, so that the planner inlines them into the policy
-- or function that calls them. Without a SET clause a body is parsed under the caller's
-- search_path, so every name in it is schema-qualified: called from a SECURITY DEFINER function,
-- a bare `::uuid` would otherwise resolve to a caller's pg_temp.uuid domain and run its CHECK as
-- the definer. Claims come from the request settings PostgREST sets; a setting reads as '' after
-- the transaction that set it ended, hence nullif.
create or replace function auth.uid() returns pg_catalog.uuid
language sql stable
as $$
  select coalesce(
    nullif(pg_catalog.current_setting('request.jwt.claim.sub', true), ''),
    (nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::pg_catalog.jsonb
      operator(pg_catalog.->>) 'sub')
  )::pg_catalog.uuid
$$;

create or replace function auth.role() returns pg_catalog.text
language sql stable
as $$
  select coalesce(
    nullif(pg_catalog.current_setting('request.jwt.claim.role', true), ''),
    (nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::pg_catalog.jsonb
      operator(pg_catalog.->>) 'role')
  )::pg_catalog.text
$$;

create or replace function auth.email() returns pg_catalog.text
language sql stable
as $$
  select coalesce(
    nullif(pg_catalog.current_setting('request.jwt.claim.email', true), ''),
    (nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::pg_catalog.jsonb
      operator(pg_catalog.->>) 'email')
  )::pg_catalog.text
$$;

create or replace function auth.jwt() returns pg_catalog.jsonb
language sql stable
as $$
  select coalesce(
    nullif(pg_catalog.current_setting('request.jwt.claim', true), ''),
    nullif(pg_catalog.current_setting('request.jwt.claims', true), '')
  )::pg_catalog.jsonb
$$;

alter function auth.uid() owner to supabase_auth_admin;
alter function auth.role() owner to supabase_auth_admin;
alter function auth.email() owner to supabase_auth_admin;
alter function auth.jwt() owner to supabase_auth_admin;
grant execute on function auth.uid(), auth.role(), auth.email(), auth.jwt()
  to postgres, anon, authenticated, service_role;

-- Realtime's publication exists, empty, owned by postgres so that migrations can add tables.
do $$
begin
  if not exists (select from pg_catalog.pg_publication where pubname = 'supabase_realtime') then
    create publication supabase_realtime;
  end if;
end
$$;
alter publication supabase_realtime owner to postgres;

-- The revision of this layer, so that lift-db re-applies it (every statement above is
-- idempotent) to a local database made with an older one. A real Supabase database carries no
-- such marker and is never touched.
comment on schema extensions is 'lift-db platform layer 2';
