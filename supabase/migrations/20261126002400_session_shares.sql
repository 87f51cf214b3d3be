-- Why: an owner shares a session with another user, as `viewer` (reads the session, its history
-- and its comments) or `editor` (may also write the IR). Only the owner shares, changes a
-- share's role or unshares; the grantee sees their own share, nothing else. Revoking is deleting
-- the row, and every access check reads the shares at query time, so access ends at once.
--
-- Policy recursion: the owner check of a share reads public.sessions, and the next migration
-- makes the policies of public.sessions read public.session_shares. Policies that queried each
-- other's tables directly would recurse (SQLSTATE 42P17, "infinite recursion detected in
-- policy"). So every cross-table check goes through the SECURITY DEFINER helpers below, which
-- read both tables as their owner, without RLS, and answer only about the calling user
-- (auth.uid()); policies call them as `id in (select private.…())`, which Postgres evaluates once
-- per statement, not once per row. They live in schema `private`: the API cannot name them, and
-- authenticated gets EXECUTE only because a policy expression runs with the caller's rights;
-- without USAGE on the schema the caller still cannot call them directly.

-- On a live project, wait briefly for locks and then fail, rather than queue behind traffic and
-- block it; the file rolls back whole and can simply be re-run. Session-level on purpose: the CLI
-- pipelines a file without a transaction block, where SET LOCAL does nothing, and both the CLI
-- and lift-db run RESET ALL between files.
set lock_timeout = '5s';
set statement_timeout = '60s';

create table public.session_shares (
  session_id uuid not null references public.sessions (id) on delete cascade,
  user_id uuid not null references public.users (id) on delete cascade,
  role text not null default 'viewer',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint session_shares_pkey primary key (session_id, user_id),
  constraint session_shares_role_valid check (role in ('viewer', 'editor'))
);

comment on table public.session_shares is
  'Who else may read (viewer) or also write the IR of (editor) a session; managed by its owner.';

-- "Sessions shared with me" and the access helpers read by grantee; it covers that foreign key.
-- The primary key covers session_id.
create index session_shares_user_id_session_id_idx
  on public.session_shares (user_id, session_id);

create trigger session_shares_touch_updated_at
  before insert or update on public.session_shares
  for each row execute function private.touch_updated_at();

-- The caller's access, for policies. Each answers for auth.uid() only, so executing one tells a
-- caller nothing about anyone else.
create function private.owned_session_ids() returns setof uuid
language sql
stable
security definer
set search_path = ''
as $$
  select s.id from public.sessions as s where s.user_id = (select auth.uid())
$$;

-- with_role null: shared with the caller in any role.
create function private.shared_session_ids(with_role text default null) returns setof uuid
language sql
stable
security definer
set search_path = ''
as $$
  select sh.session_id
    from public.session_shares as sh
   where sh.user_id = (select auth.uid())
     and (shared_session_ids.with_role is null or sh.role = shared_session_ids.with_role)
$$;

-- Sessions the caller owns or that were shared with them: what they may read.
create function private.readable_session_ids() returns setof uuid
language sql
stable
security definer
set search_path = ''
as $$
  select s.id from public.sessions as s where s.user_id = (select auth.uid())
  union all
  select sh.session_id from public.session_shares as sh where sh.user_id = (select auth.uid())
$$;

revoke execute on function private.owned_session_ids() from public;
revoke execute on function private.shared_session_ids(text) from public;
revoke execute on function private.readable_session_ids() from public;
grant execute on function private.owned_session_ids() to authenticated;
grant execute on function private.shared_session_ids(text) to authenticated;
grant execute on function private.readable_session_ids() to authenticated;

-- Clear errors for the owner's mistakes, before RLS and the foreign keys speak. It answers only
-- the session's owner (and service_role / direct SQL, which have no auth.uid()): anyone else's
-- attempt falls through to the RLS check and fails there, learning nothing about the session or
-- the user named. SECURITY DEFINER because the owner cannot read other users' profiles.
create function private.check_session_share() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  caller uuid := (select auth.uid());
  owner_id uuid;
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

revoke execute on function private.check_session_share() from public;

create trigger session_shares_check
  before insert or update on public.session_shares
  for each row execute function private.check_session_share();

-- API access: the owner shares (insert), changes the role (update of role only) and unshares
-- (delete); owner and grantee read. anon gets nothing.
revoke all on table public.session_shares from anon, authenticated, service_role;
grant select, delete on table public.session_shares to authenticated;
grant insert (session_id, user_id, role) on table public.session_shares to authenticated;
grant update (role) on table public.session_shares to authenticated;
grant select, insert, update, delete on table public.session_shares to service_role;

alter table public.session_shares enable row level security;

create policy session_shares_select_owner_or_grantee on public.session_shares
  for select
  to authenticated
  using (
    user_id = (select auth.uid())
    or session_id in (select private.owned_session_ids())
  );

create policy session_shares_insert_owner on public.session_shares
  for insert
  to authenticated
  with check (session_id in (select private.owned_session_ids()));

create policy session_shares_update_owner on public.session_shares
  for update
  to authenticated
  using (session_id in (select private.owned_session_ids()))
  with check (session_id in (select private.owned_session_ids()));

create policy session_shares_delete_owner on public.session_shares
  for delete
  to authenticated
  using (session_id in (select private.owned_session_ids()));
