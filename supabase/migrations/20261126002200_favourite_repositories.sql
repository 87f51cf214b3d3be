-- Why: a user marks some of their cached repositories as favourites, to offer them first. A
-- favourite names a repository of the same user: the foreign key is (repository_id, user_id),
-- so not even service_role can make a user's favourite point at another user's cache entry.
-- Evicting a repository from the cache removes it from favourites (on delete cascade); a refresh
-- is an upsert that keeps the repository's id, and so keeps the favourite.

-- On a live project, wait briefly for locks and then fail, rather than queue behind traffic and
-- block it; the file rolls back whole and can simply be re-run. Session-level on purpose: the CLI
-- pipelines a file without a transaction block, where SET LOCAL does nothing, and both the CLI
-- and lift-db run RESET ALL between files.
set lock_timeout = '5s';
set statement_timeout = '60s';

create table public.favourite_repositories (
  user_id uuid not null default auth.uid(),
  repository_id uuid not null,
  created_at timestamptz not null default now(),
  -- Leads with user_id: "my favourites" and the policies; it also covers the foreign key below.
  constraint favourite_repositories_pkey primary key (user_id, repository_id),
  constraint favourite_repositories_repository_fkey foreign key (repository_id, user_id)
    references public.repositories (id, user_id) on delete cascade
);

comment on table public.favourite_repositories is
  'A user''s favourite repositories among their own cached ones.';

-- API access: a favourite is added or removed, never changed. anon gets nothing.
revoke all on table public.favourite_repositories from anon, authenticated, service_role;
grant select, delete on table public.favourite_repositories to authenticated;
grant insert (user_id, repository_id) on table public.favourite_repositories to authenticated;
grant select, insert, delete on table public.favourite_repositories to service_role;

alter table public.favourite_repositories enable row level security;

create policy favourite_repositories_select_own on public.favourite_repositories
  for select
  to authenticated
  using (user_id = (select auth.uid()));

create policy favourite_repositories_insert_own on public.favourite_repositories
  for insert
  to authenticated
  with check (user_id = (select auth.uid()));

create policy favourite_repositories_delete_own on public.favourite_repositories
  for delete
  to authenticated
  using (user_id = (select auth.uid()));
