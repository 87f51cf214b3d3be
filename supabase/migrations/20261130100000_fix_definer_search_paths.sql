-- Why: `search_path = ''` does not keep a caller's temporary objects out. PostgreSQL still looks
-- in the session's own pg_temp schema first for relation and type names when pg_temp is not
-- named. A client signed in as `authenticated` could run
--   create domain pg_temp.uuid as pg_catalog.uuid check (pg_temp.f(value))
-- and the next `select … from public.sessions` ran pg_temp.f as `postgres`: the RLS helpers
-- (SECURITY DEFINER) declare and cast `uuid` and call auth.uid(), whose `::uuid` resolved to the
-- caller's domain. The payload could read auth.users, create functions and disable RLS.
--
-- The fix is PostgreSQL's documented safe form: `search_path = pg_catalog, pg_temp`. With
-- pg_catalog named first, every built-in type and function resolves there before pg_temp is
-- looked at; with pg_temp named last, the caller's temporary objects are found only for a name
-- nothing else has, and every relation here is schema-qualified. Functions and operators are
-- never looked up in pg_temp at all.
--
-- It applies to every function of the app, not only the SECURITY DEFINER ones: trigger
-- functions run as the table owner when a definer function or a foreign-key cascade writes
-- (a user deleting their session cascades into history, comments and shares as `postgres`), and
-- the invoker functions are called from definer code. The SECURITY DEFINER functions and the
-- trigger that declares a variable are rewritten below with every type and function
-- schema-qualified as well; the others get the new search_path by ALTER FUNCTION, which keeps
-- their bodies: those name only built-in types, which now resolve in pg_catalog, and
-- schema-qualified relations. private.record_session_history is rewritten by the migration that
-- records authors. The catalog guards in supabase/tests (tests.unsafe_security_definer_functions,
-- tests.unsafe_definer_reachable_functions) fail, naming the function, on any function that
-- breaks the rule later.
--
-- Not done here: revoking TEMPORARY on the database from the API roles. Only the database's
-- owner can revoke what PUBLIC holds, and neither on a Supabase project nor on the local stack is
-- that the role migrations run as; docs/security.md explains what that leaves and why the
-- search_path rule makes temporary objects harmless to the schema.

-- On a live project, wait briefly for locks and then fail, rather than queue behind traffic.
set lock_timeout = '5s';
set statement_timeout = '60s';

-- Profiles (triggers on auth.users, run as their owner).
create or replace function private.create_user_profile() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  insert into public.users (id, email, provider, provider_user_id, display_name, created_at,
                            last_login_at)
  values (
    new.id,
    new.email,
    coalesce(
      nullif(new.raw_app_meta_data operator(pg_catalog.->>) 'provider', ''),
      case when new.is_anonymous then 'anonymous' else 'email' end
    ),
    new.id::pg_catalog.text,
    pg_catalog.left(
      nullif(
        pg_catalog.btrim(coalesce(new.raw_user_meta_data operator(pg_catalog.->>) 'full_name',
                                  new.raw_user_meta_data operator(pg_catalog.->>) 'name', '')),
        ''
      ),
      200
    ),
    coalesce(new.created_at, pg_catalog.now()),
    new.last_sign_in_at
  );
  return null;
end
$$;

create or replace function private.sync_user_profile() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  update public.users as u
     set email = new.email,
         last_login_at = new.last_sign_in_at
   where u.id = new.id;
  return null;
end
$$;

create or replace function private.record_provider_user_id() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  update public.users as u
     set provider_user_id = new.provider_id
   where u.id = new.user_id
     and u.provider = new.provider
     and u.provider_user_id = new.user_id::pg_catalog.text;
  return null;
end
$$;

-- The RLS helpers: each answers for auth.uid() only.
create or replace function private.owned_session_ids() returns setof pg_catalog.uuid
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select s.id from public.sessions as s where s.user_id = (select auth.uid())
$$;

create or replace function private.shared_session_ids(with_role pg_catalog.text default null)
returns setof pg_catalog.uuid
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select sh.session_id
    from public.session_shares as sh
   where sh.user_id = (select auth.uid())
     and (shared_session_ids.with_role is null or sh.role = shared_session_ids.with_role)
$$;

create or replace function private.readable_session_ids() returns setof pg_catalog.uuid
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select s.id from public.sessions as s where s.user_id = (select auth.uid())
  union all
  select sh.session_id from public.session_shares as sh where sh.user_id = (select auth.uid())
$$;

create or replace function private.check_session_share() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  caller pg_catalog.uuid := (select auth.uid());
  owner_id pg_catalog.uuid;
begin
  if tg_op = 'UPDATE'
     and (new.session_id <> old.session_id or new.user_id <> old.user_id) then
    raise exception 'a share cannot move to another session or user'
      using errcode = '42501', hint = 'unshare, then share again';
  end if;
  select s.user_id into owner_id from public.sessions as s where s.id = new.session_id;
  if owner_id is null or new.user_id is null or (caller is not null and caller <> owner_id) then
    return new;
  end if;
  if new.user_id = owner_id then
    raise exception 'a session cannot be shared with its owner'
      using errcode = '22023', hint = 'the owner already has every right on the session';
  end if;
  if not exists (select from public.users as u where u.id = new.user_id) then
    raise exception 'user % does not exist', new.user_id
      using errcode = '23503', hint = 'share with the id of a signed-up user';
  end if;
  return new;
end
$$;

-- Runs as the caller, and as the owner when definer code writes sessions.
create or replace function private.guard_shared_session_edit() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  caller pg_catalog.uuid := (select auth.uid());
begin
  if caller is null or caller = old.user_id then
    return new;
  end if;
  if new.status is distinct from old.status then
    raise exception 'only the owner of session % can change its status', old.id
      using errcode = '42501', hint = 'an editor may change the IR only';
  end if;
  if new.prompt is distinct from old.prompt then
    raise exception 'only the owner of session % can change its prompt', old.id
      using errcode = '42501', hint = 'an editor may change the IR only';
  end if;
  if new.metadata is distinct from old.metadata then
    raise exception 'only the owner of session % can change its holes and assists', old.id
      using errcode = '42501', hint = 'an editor may change the IR only';
  end if;
  return new;
end
$$;

-- Every other function of the app: the same search_path, bodies unchanged. (One ALTER each;
-- written as a loop because sqlfluff cannot parse a list value in ALTER FUNCTION … SET.)
do $$
declare
  fn pg_catalog.regprocedure;
begin
  foreach fn in array array[
    'private.record_session_history()',
    'private.guard_session_columns()',
    'private.version_session_ir()',
    'private.refuse_history_update()',
    'private.touch_updated_at()',
    'private.guard_comment_columns()',
    'private.check_event_session()',
    'private.guard_session_embedding()',
    'private.analytics_events_partitions()',
    'private.create_analytics_events_partition(date)',
    'private.maintain_analytics_events_partitions(integer, integer, text)',
    'public.update_session_ir(uuid, jsonb, integer, text)',
    'public.rollback_session(uuid, integer, integer, text)',
    'public.match_sessions(extensions.vector, integer, double precision)'
  ]::pg_catalog.regprocedure[]
  loop
    execute pg_catalog.format('alter function %s set search_path = pg_catalog, pg_temp', fn);
  end loop;
end
$$;
