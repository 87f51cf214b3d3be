-- Why: public.users mirrors Supabase Auth: id, email, provider, provider_user_id, last_login_at
-- and created_at come from auth.users and auth.identities through the sync triggers, and only
-- display_name is the app's. Column grants kept signed-in users to display_name, but
-- service_role (the server-side key, which holds UPDATE on the table) could rewrite any
-- profile's email or provider, so the app could be told that a user signed in with GitHub, or
-- under another address, when Auth says otherwise. Sessions already guard their
-- database-owned columns against every writer; profiles now do the same against every role but
-- the table's owner, which is who the sync triggers (SECURITY DEFINER) and migrations run as.
-- To change an address or a provider, change it in Auth; the profile follows.

-- On a live project, wait briefly for locks and then fail, rather than queue behind traffic.
set lock_timeout = '5s';
set statement_timeout = '60s';

-- Runs as the caller: compares the caller with the table's owner.
create function private.guard_user_profile_columns() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  if current_user operator(pg_catalog.=) (
       select pg_catalog.pg_get_userbyid(c.relowner)
         from pg_catalog.pg_class as c
        where c.oid = tg_relid
     ) then
    return new;
  end if;
  if new.id <> old.id
     or new.email is distinct from old.email
     or new.provider <> old.provider
     or new.provider_user_id <> old.provider_user_id
     or new.last_login_at is distinct from old.last_login_at
     or new.created_at <> old.created_at then
    raise exception 'only display_name of a profile can change; the rest follows Supabase Auth'
      using errcode = '42501',
            hint = 'change the email or sign-in in Auth (auth.users); the profile follows';
  end if;
  return new;
end
$$;

revoke execute on function private.guard_user_profile_columns() from public;

create trigger users_guard_auth_columns
  before update on public.users
  for each row execute function private.guard_user_profile_columns();
