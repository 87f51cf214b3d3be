-- Why: lift-sys reads a user's GitHub repositories (default branch, visibility, raw API metadata)
-- to ground prompts in real code, and must not call the provider's API on every request. This is
-- the per-user cache of that metadata: one row per user and repository, refreshed in place (an
-- upsert keeps the row's id, so favourites survive a refresh).
--
-- Each user's cache is theirs alone, public repositories included: what one user fetched with
-- their token (private repositories above all) is never visible to another user. A repository
-- two users both use is cached twice, once per user, on purpose.
--
-- Owner and name compare case-insensitively, as GitHub does: the uniqueness key is
-- (user_id, provider, lower(owner), lower(name)); an upsert names that key:
--   insert … on conflict (user_id, provider, lower(owner), lower(name)) do update set …

-- On a live project, wait briefly for locks and then fail, rather than queue behind traffic and
-- block it; the file rolls back whole and can simply be re-run. Session-level on purpose: the CLI
-- pipelines a file without a transaction block, where SET LOCAL does nothing, and both the CLI
-- and lift-db run RESET ALL between files.
set lock_timeout = '5s';
set statement_timeout = '60s';

create table public.repositories (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references public.users (id) on delete cascade,
  provider text not null default 'github',
  owner text not null,
  name text not null,
  default_branch text,
  is_private boolean not null default false,
  metadata jsonb not null default '{}'::jsonb,
  fetched_at timestamptz not null default now(),
  created_at timestamptz not null default now(),
  -- The target of favourite_repositories' (repository_id, user_id) key: a favourite can only
  -- name a repository of the same user.
  constraint repositories_id_user_id_key unique (id, user_id),
  constraint repositories_provider_format check (provider ~ '^[a-z][a-z0-9-]{0,31}$'),
  -- GitLab owners may be nested groups (a/b/c); names never contain a slash.
  constraint repositories_owner_format check (
    char_length(owner) between 1 and 255 and owner !~ '[[:space:][:cntrl:]]'
  ),
  constraint repositories_name_format check (
    char_length(name) between 1 and 100 and name !~ '[/[:space:][:cntrl:]]'
  ),
  constraint repositories_default_branch_length check (
    char_length(default_branch) between 1 and 255
  ),
  constraint repositories_metadata_object check (jsonb_typeof(metadata) = 'object'),
  constraint repositories_metadata_size check (octet_length(metadata::text) <= 262144)
);

comment on table public.repositories is
  'Per-user cache of repository metadata fetched from the provider (GitHub); never shared.';
comment on column public.repositories.metadata is
  'The provider''s raw repository object (JSON), as fetched at fetched_at.';

-- One row per user and repository; it also leads with user_id, so it serves the policies, the
-- foreign key and "my repositories".
create unique index repositories_user_id_provider_owner_name_key
  on public.repositories (user_id, provider, lower(owner), lower(name));

-- API access: owners do everything to their own cache through RLS; the owner column is set once.
revoke all on table public.repositories from anon, authenticated, service_role;
grant select, delete on table public.repositories to authenticated;
grant insert (id, user_id, provider, owner, name, default_branch, is_private, metadata, fetched_at)
  on table public.repositories to authenticated;
grant update (owner, name, default_branch, is_private, metadata, fetched_at)
  on table public.repositories to authenticated;
grant select, insert, update, delete on table public.repositories to service_role;

alter table public.repositories enable row level security;

create policy repositories_select_own on public.repositories
  for select
  to authenticated
  using (user_id = (select auth.uid()));

create policy repositories_insert_own on public.repositories
  for insert
  to authenticated
  with check (user_id = (select auth.uid()));

create policy repositories_update_own on public.repositories
  for update
  to authenticated
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()));

create policy repositories_delete_own on public.repositories
  for delete
  to authenticated
  using (user_id = (select auth.uid()));
