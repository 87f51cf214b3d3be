-- Why: every lift-sys user needs an app-side profile that sessions can belong to. Supabase Auth
-- owns identities (auth.users); public.users mirrors the part the app reads, one row per auth
-- user with the same id. The database creates the row when Auth creates the user and keeps
-- email and last_login_at in step with Auth, so no client call can forget or forge it.
--
-- Email is not unique here: Auth decides which accounts may share an address (SSO users can),
-- and a phone-only or anonymous user has none. provider_user_id is the id the provider knows the
-- user by (auth.identities.provider_id); until Auth records the identity it is the auth id, which
-- is what Auth itself uses as provider_id for email sign-ups.

-- On a live project, wait briefly for locks (auth.users, referenced tables) and then fail, rather
-- than queue behind traffic and block it; the file rolls back whole and can simply be re-run.
-- Session-level on purpose: the CLI pipelines a file without a transaction block, where SET
-- LOCAL does nothing, and both the CLI and lift-db run RESET ALL between files.
set lock_timeout = '5s';
set statement_timeout = '60s';

create table public.users (
  id uuid primary key references auth.users (id) on delete cascade,
  email text,
  provider text not null,
  provider_user_id text not null,
  display_name text,
  created_at timestamptz not null default now(),
  last_login_at timestamptz,
  constraint users_provider_user_id_key unique (provider, provider_user_id),
  constraint users_display_name_length check (char_length(display_name) between 1 and 200)
);

comment on table public.users is
  'One profile per auth user (same id), created and kept current by triggers on auth.users.';
comment on column public.users.provider_user_id is
  'The id the sign-in provider knows the user by (auth.identities.provider_id).';
comment on column public.users.display_name is
  'The only column a user may change; id, email and provider follow Auth.';

-- API access: a user reads and renames their own profile; the row itself comes from Auth, so
-- clients never insert or delete it. anon gets nothing.
revoke all on table public.users from anon, authenticated, service_role;
grant select on table public.users to authenticated;
grant update (display_name) on table public.users to authenticated;
grant select, insert, update, delete on table public.users to service_role;

alter table public.users enable row level security;

create policy users_select_own on public.users
  for select
  to authenticated
  using (id = (select auth.uid()));

create policy users_update_own on public.users
  for update
  to authenticated
  using (id = (select auth.uid()))
  with check (id = (select auth.uid()));

-- A new auth user gets its profile in the same transaction. Provider comes from app metadata,
-- which only Auth writes; display_name comes from user metadata, which the user controls, so it
-- is trimmed and cut to the column's bound rather than allowed to make sign-up fail.
create function private.create_user_profile() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.users (id, email, provider, provider_user_id, display_name, created_at,
                            last_login_at)
  values (
    new.id,
    new.email,
    coalesce(
      nullif(new.raw_app_meta_data ->> 'provider', ''),
      case when new.is_anonymous then 'anonymous' else 'email' end
    ),
    new.id::text,
    left(nullif(btrim(coalesce(new.raw_user_meta_data ->> 'full_name',
                               new.raw_user_meta_data ->> 'name', '')), ''), 200),
    coalesce(new.created_at, now()),
    new.last_sign_in_at
  );
  return null;
end
$$;

revoke execute on function private.create_user_profile() from public;

create trigger on_auth_user_created
  after insert on auth.users
  for each row execute function private.create_user_profile();

-- Auth records each sign-in in last_sign_in_at and confirmed address changes in email.
create function private.sync_user_profile() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.users as u
     set email = new.email,
         last_login_at = new.last_sign_in_at
   where u.id = new.id;
  return null;
end
$$;

revoke execute on function private.sync_user_profile() from public;

create trigger on_auth_user_updated
  after update of email, last_sign_in_at on auth.users
  for each row
  when (
    old.email is distinct from new.email
    or old.last_sign_in_at is distinct from new.last_sign_in_at
  )
  execute function private.sync_user_profile();

-- Auth writes the identity right after the user; for OAuth providers its provider_id is the
-- provider's own user id, which replaces the placeholder set at creation.
create function private.record_provider_user_id() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.users as u
     set provider_user_id = new.provider_id
   where u.id = new.user_id
     and u.provider = new.provider
     and u.provider_user_id = new.user_id::text;
  return null;
end
$$;

revoke execute on function private.record_provider_user_id() from public;

create trigger on_auth_identity_created
  after insert on auth.identities
  for each row execute function private.record_provider_user_id();
