-- Why: LOCK TABLE in any mode above ROW EXCLUSIVE is allowed to whoever holds table-level UPDATE,
-- DELETE, TRUNCATE or MAINTAIN (column-level grants do not count). `authenticated` held DELETE on
-- seven tables, so `lock table public.sessions in access exclusive mode` from any signed-in
-- user stopped every other user's reads and writes for as long as that transaction lasted.
-- Updates were already column-level grants; deletes now go through functions, and API roles
-- keep no table-level privilege but SELECT. The remaining lock modes an API role may take are
-- ACCESS SHARE (SELECT) and ROW EXCLUSIVE is not even that (INSERT is granted per column):
-- ACCESS SHARE conflicts only with ACCESS EXCLUSIVE, i.e. DDL, which migrations run with a
-- lock_timeout (see docs/security.md).
--
-- Design: one SECURITY DEFINER function per delete, in schema private (not exposed, no USAGE
-- for API roles), EXECUTE granted to authenticated only. Each applies the ownership rule of the
-- table's delete policy for the caller (auth.uid()) and nothing else, and fails the same way for
-- a row that does not exist and one the caller cannot see (PT404, "<thing> <id> not found"). A
-- row the caller can see but may not delete is 42501. The API (PostgREST exposes public only)
-- reaches them through thin SECURITY INVOKER wrappers in public with a SQL-standard body
-- (BEGIN ATOMIC): that body is bound to private.* when the wrapper is created, so callers need
-- EXECUTE on the private function but never USAGE on schema private. RPC:
--   public.delete_session(session_id)                    owner
--   public.delete_comment(comment_id)                    its author while they read the session,
--                                                        or the session's owner
--   public.delete_repository(repository_id)              owner of the cache entry
--   public.delete_favourite_repository(repository_id)    owner
--   public.delete_user_preferences()                     the caller's own settings
--   public.delete_session_embedding(session_id)          the session's owner
--   public.delete_session_share(session_id, user_id)     the session's owner, or the grantee
--                                                        leaving a share pushed on them (new)
-- service_role keeps its table-level DELETE: it bypasses RLS and is trusted server-side.
--
-- Rule change: a grantee may now remove their own share (leave a session someone shared with
-- them): the delete policy of session_shares says so too, for service-side tooling that reads it.

-- On a live project, wait briefly for locks and then fail, rather than queue behind traffic.
set lock_timeout = '5s';
set statement_timeout = '60s';

-- Table-level only: REVOKE UPDATE here would also take the column-level UPDATE grants away.
revoke delete, truncate on table
  public.sessions, public.comments, public.repositories, public.favourite_repositories,
  public.user_preferences, public.session_shares, public.session_embeddings
  from anon, authenticated;

-- Replaced, in this file's one transaction, so that the name says the new rule.
drop policy session_shares_delete_owner on public.session_shares;
create policy session_shares_delete_owner_or_grantee on public.session_shares
  for delete
  to authenticated
  using (
    user_id = (select auth.uid())
    or session_id in (select private.owned_session_ids())
  );

-- Sessions: the owner deletes (history, shares, comments, embedding go with it by cascade).
create function private.delete_session(session_id pg_catalog.uuid) returns pg_catalog.void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  caller pg_catalog.uuid := (select auth.uid());
begin
  if delete_session.session_id is null then
    raise exception 'session_id must not be null' using errcode = '22004';
  end if;
  delete from public.sessions as s
   where s.id = delete_session.session_id and s.user_id = caller;
  if found then
    return;
  end if;
  if exists (
    select from public.session_shares as sh
     where sh.session_id = delete_session.session_id and sh.user_id = caller
  ) then
    raise exception 'only the owner of session % can delete it', delete_session.session_id
      using errcode = '42501';
  end if;
  raise exception 'session % not found', delete_session.session_id
    using errcode = 'PT404', hint = 'the session does not exist or belongs to another user';
end
$$;

-- Comments: the author while they can still read the session, or the session's owner.
create function private.delete_comment(comment_id pg_catalog.uuid) returns pg_catalog.void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  caller pg_catalog.uuid := (select auth.uid());
  author_id pg_catalog.uuid;
  owner_id pg_catalog.uuid;
  readable pg_catalog.bool;
begin
  if delete_comment.comment_id is null then
    raise exception 'comment_id must not be null' using errcode = '22004';
  end if;
  select c.author_id, s.user_id,
         s.user_id = caller or exists (
           select from public.session_shares as sh
            where sh.session_id = c.session_id and sh.user_id = caller
         )
    into author_id, owner_id, readable
    from public.comments as c
    join public.sessions as s on s.id = c.session_id
   where c.id = delete_comment.comment_id
     for update of c;
  if readable is not true then
    raise exception 'comment % not found', delete_comment.comment_id
      using errcode = 'PT404',
            hint = 'the comment does not exist or is on a session the caller cannot read';
  end if;
  if author_id <> caller and owner_id <> caller then
    raise exception 'only the author of comment % or the session''s owner can delete it',
      delete_comment.comment_id
      using errcode = '42501';
  end if;
  delete from public.comments as c where c.id = delete_comment.comment_id;
end
$$;

create function private.delete_repository(repository_id pg_catalog.uuid) returns pg_catalog.void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if delete_repository.repository_id is null then
    raise exception 'repository_id must not be null' using errcode = '22004';
  end if;
  delete from public.repositories as r
   where r.id = delete_repository.repository_id and r.user_id = (select auth.uid());
  if not found then
    raise exception 'repository % not found', delete_repository.repository_id
      using errcode = 'PT404', hint = 'the repository is not in the caller''s cache';
  end if;
end
$$;

create function private.delete_favourite_repository(repository_id pg_catalog.uuid)
returns pg_catalog.void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if delete_favourite_repository.repository_id is null then
    raise exception 'repository_id must not be null' using errcode = '22004';
  end if;
  delete from public.favourite_repositories as f
   where f.user_id = (select auth.uid())
     and f.repository_id = delete_favourite_repository.repository_id;
  if not found then
    raise exception 'favourite repository % not found', delete_favourite_repository.repository_id
      using errcode = 'PT404', hint = 'the repository is not among the caller''s favourites';
  end if;
end
$$;

create function private.delete_user_preferences() returns pg_catalog.void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  delete from public.user_preferences as p where p.user_id = (select auth.uid());
  if not found then
    raise exception 'user preferences not found'
      using errcode = 'PT404', hint = 'the caller has no stored settings';
  end if;
end
$$;

-- Embeddings: the session's owner.
create function private.delete_session_embedding(session_id pg_catalog.uuid) returns pg_catalog.void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  caller pg_catalog.uuid := (select auth.uid());
  owner_id pg_catalog.uuid;
begin
  if delete_session_embedding.session_id is null then
    raise exception 'session_id must not be null' using errcode = '22004';
  end if;
  select s.user_id into owner_id
    from public.sessions as s
   where s.id = delete_session_embedding.session_id
     and (
       s.user_id = caller
       or exists (
         select from public.session_shares as sh
          where sh.session_id = s.id and sh.user_id = caller
       )
     );
  if owner_id is null then
    raise exception 'session % not found', delete_session_embedding.session_id
      using errcode = 'PT404', hint = 'the session does not exist or belongs to another user';
  end if;
  if owner_id <> caller then
    raise exception 'only the owner of session % can delete its embedding',
      delete_session_embedding.session_id
      using errcode = '42501';
  end if;
  delete from public.session_embeddings as e
   where e.session_id = delete_session_embedding.session_id;
  if not found then
    raise exception 'session % has no embedding', delete_session_embedding.session_id
      using errcode = 'PT404';
  end if;
end
$$;

-- Shares: the owner revokes any share of the session; a grantee removes their own (leaves).
-- Another grantee's share is not the caller's to remove, whether it exists or not.
create function private.delete_session_share(
  session_id pg_catalog.uuid,
  user_id pg_catalog.uuid
) returns pg_catalog.void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  caller pg_catalog.uuid := (select auth.uid());
  owner_id pg_catalog.uuid;
begin
  if delete_session_share.session_id is null then
    raise exception 'session_id must not be null' using errcode = '22004';
  end if;
  if delete_session_share.user_id is null then
    raise exception 'user_id must not be null' using errcode = '22004';
  end if;
  select s.user_id into owner_id
    from public.sessions as s
   where s.id = delete_session_share.session_id
     and (
       s.user_id = caller
       or exists (
         select from public.session_shares as sh
          where sh.session_id = s.id and sh.user_id = caller
       )
     );
  if owner_id is null then
    raise exception 'session % not found', delete_session_share.session_id
      using errcode = 'PT404', hint = 'the session does not exist or belongs to another user';
  end if;
  if owner_id <> caller and delete_session_share.user_id <> caller then
    raise exception 'only the owner of session % can unshare it', delete_session_share.session_id
      using errcode = '42501', hint = 'a grantee may remove only their own share';
  end if;
  delete from public.session_shares as sh
   where sh.session_id = delete_session_share.session_id
     and sh.user_id = delete_session_share.user_id;
  if not found then
    raise exception 'session % is not shared with user %', delete_session_share.session_id,
      delete_session_share.user_id
      using errcode = 'PT404';
  end if;
end
$$;

revoke execute on function private.delete_session(pg_catalog.uuid) from public;
revoke execute on function private.delete_comment(pg_catalog.uuid) from public;
revoke execute on function private.delete_repository(pg_catalog.uuid) from public;
revoke execute on function private.delete_favourite_repository(pg_catalog.uuid) from public;
revoke execute on function private.delete_user_preferences() from public;
revoke execute on function private.delete_session_embedding(pg_catalog.uuid) from public;
revoke execute on function private.delete_session_share(pg_catalog.uuid, pg_catalog.uuid)
  from public;
grant execute on function private.delete_session(pg_catalog.uuid) to authenticated;
grant execute on function private.delete_comment(pg_catalog.uuid) to authenticated;
grant execute on function private.delete_repository(pg_catalog.uuid) to authenticated;
grant execute on function private.delete_favourite_repository(pg_catalog.uuid) to authenticated;
grant execute on function private.delete_user_preferences() to authenticated;
grant execute on function private.delete_session_embedding(pg_catalog.uuid) to authenticated;
grant execute on function private.delete_session_share(pg_catalog.uuid, pg_catalog.uuid)
  to authenticated;

-- The API's entry points: SECURITY INVOKER, bound at creation to the private functions above.
create function public.delete_session(session_id pg_catalog.uuid) returns pg_catalog.void
language sql
security invoker
set search_path = pg_catalog, pg_temp
begin atomic
  select private.delete_session(session_id);
end;

create function public.delete_comment(comment_id pg_catalog.uuid) returns pg_catalog.void
language sql
security invoker
set search_path = pg_catalog, pg_temp
begin atomic
  select private.delete_comment(comment_id);
end;

create function public.delete_repository(repository_id pg_catalog.uuid) returns pg_catalog.void
language sql
security invoker
set search_path = pg_catalog, pg_temp
begin atomic
  select private.delete_repository(repository_id);
end;

create function public.delete_favourite_repository(repository_id pg_catalog.uuid)
returns pg_catalog.void
language sql
security invoker
set search_path = pg_catalog, pg_temp
begin atomic
  select private.delete_favourite_repository(repository_id);
end;

create function public.delete_user_preferences() returns pg_catalog.void
language sql
security invoker
set search_path = pg_catalog, pg_temp
begin atomic
  select private.delete_user_preferences();
end;

create function public.delete_session_embedding(session_id pg_catalog.uuid) returns pg_catalog.void
language sql
security invoker
set search_path = pg_catalog, pg_temp
begin atomic
  select private.delete_session_embedding(session_id);
end;

create function public.delete_session_share(
  session_id pg_catalog.uuid,
  user_id pg_catalog.uuid
) returns pg_catalog.void
language sql
security invoker
set search_path = pg_catalog, pg_temp
begin atomic
  select private.delete_session_share(session_id, user_id);
end;

revoke execute on function public.delete_session(pg_catalog.uuid) from public, anon;
revoke execute on function public.delete_comment(pg_catalog.uuid) from public, anon;
revoke execute on function public.delete_repository(pg_catalog.uuid) from public, anon;
revoke execute on function public.delete_favourite_repository(pg_catalog.uuid) from public, anon;
revoke execute on function public.delete_user_preferences() from public, anon;
revoke execute on function public.delete_session_embedding(pg_catalog.uuid) from public, anon;
revoke execute on function public.delete_session_share(pg_catalog.uuid, pg_catalog.uuid)
  from public, anon;
grant execute on function public.delete_session(pg_catalog.uuid) to authenticated;
grant execute on function public.delete_comment(pg_catalog.uuid) to authenticated;
grant execute on function public.delete_repository(pg_catalog.uuid) to authenticated;
grant execute on function public.delete_favourite_repository(pg_catalog.uuid) to authenticated;
grant execute on function public.delete_user_preferences() to authenticated;
grant execute on function public.delete_session_embedding(pg_catalog.uuid) to authenticated;
grant execute on function public.delete_session_share(pg_catalog.uuid, pg_catalog.uuid)
  to authenticated;
