-- Why: collaborators discuss an IR where it lives. A comment belongs to a session and, when it is
-- about one IR version, to that version of the session's history (the composite foreign key
-- guarantees the version exists and belongs to the same session). Anyone who can read the
-- session (owner, viewer, editor) reads its comments and adds their own; an author edits and
-- deletes their own comments while they can still read the session; the session's owner may
-- delete any comment on it. A comment's session, version and author never change.

-- On a live project, wait briefly for locks and then fail, rather than queue behind traffic and
-- block it; the file rolls back whole and can simply be re-run. Session-level on purpose: the CLI
-- pipelines a file without a transaction block, where SET LOCAL does nothing, and both the CLI
-- and lift-db run RESET ALL between files.
set lock_timeout = '5s';
set statement_timeout = '60s';

create table public.comments (
  id uuid primary key default gen_random_uuid(),
  session_id uuid not null references public.sessions (id) on delete cascade,
  -- Same type as session_history.version, which it references.
  -- squawk-ignore prefer-bigint-over-int
  version integer,
  author_id uuid not null default auth.uid() references public.users (id) on delete cascade,
  body text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint comments_version_fkey foreign key (session_id, version)
    references public.session_history (session_id, version) on delete cascade,
  constraint comments_body_not_blank check (body ~ '\S'),
  constraint comments_body_length check (char_length(body) <= 10000)
);

comment on table public.comments is
  'Comments on a session''s IR, optionally on one version; readable by whoever reads the session.';
comment on column public.comments.version is
  'The IR version the comment is about (session_history.version), or null for the session.';

-- A session's comments (and those on one version); covers both foreign keys through session_id.
create index comments_session_id_version_idx on public.comments (session_id, version);
create index comments_author_id_idx on public.comments (author_id);

create trigger comments_touch_updated_at
  before insert or update on public.comments
  for each row execute function private.touch_updated_at();

-- Column grants stop API users from moving a comment; this stops service_role and direct SQL.
create function private.guard_comment_columns() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.id <> old.id or new.session_id <> old.session_id
     or new.version is distinct from old.version or new.author_id <> old.author_id
     or new.created_at <> old.created_at then
    raise exception 'only the body of a comment can change'
      using errcode = '42501', hint = 'delete the comment and write a new one';
  end if;
  return new;
end
$$;

revoke execute on function private.guard_comment_columns() from public;

create trigger comments_guard_columns
  before update on public.comments
  for each row execute function private.guard_comment_columns();

-- API access: readers read and write their own comments; only the body is editable. anon gets
-- nothing.
revoke all on table public.comments from anon, authenticated, service_role;
grant select, delete on table public.comments to authenticated;
grant insert (id, session_id, version, author_id, body) on table public.comments to authenticated;
grant update (body) on table public.comments to authenticated;
grant select, insert, update, delete on table public.comments to service_role;

alter table public.comments enable row level security;

create policy comments_select_readable on public.comments
  for select
  to authenticated
  using (session_id in (select private.readable_session_ids()));

create policy comments_insert_reader on public.comments
  for insert
  to authenticated
  with check (
    author_id = (select auth.uid())
    and session_id in (select private.readable_session_ids())
  );

create policy comments_update_author on public.comments
  for update
  to authenticated
  using (
    author_id = (select auth.uid())
    and session_id in (select private.readable_session_ids())
  )
  with check (
    author_id = (select auth.uid())
    and session_id in (select private.readable_session_ids())
  );

create policy comments_delete_author_or_owner on public.comments
  for delete
  to authenticated
  using (
    session_id in (select private.readable_session_ids())
    and (
      author_id = (select auth.uid())
      or session_id in (select private.owned_session_ids())
    )
  );
