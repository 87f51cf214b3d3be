-- Why: each user has one settings object (editor options, defaults for new sessions, …) that
-- the app reads at sign-in and writes when the user changes a setting. One row per user, keyed
-- by the user; the object's shape belongs to the app, the database only insists that it is a
-- JSON object of bounded size. The app upserts it:
--   insert into public.user_preferences (settings) values (…)
--   on conflict (user_id) do update set settings = excluded.settings

-- On a live project, wait briefly for locks and then fail, rather than queue behind traffic and
-- block it; the file rolls back whole and can simply be re-run. Session-level on purpose: the CLI
-- pipelines a file without a transaction block, where SET LOCAL does nothing, and both the CLI
-- and lift-db run RESET ALL between files.
set lock_timeout = '5s';
set statement_timeout = '60s';

create table public.user_preferences (
  user_id uuid primary key default auth.uid() references public.users (id) on delete cascade,
  settings jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint user_preferences_settings_object check (jsonb_typeof(settings) = 'object'),
  constraint user_preferences_settings_size check (octet_length(settings::text) <= 65536)
);

comment on table public.user_preferences is
  'One settings object (JSON) per user; its keys belong to the app.';

create trigger user_preferences_touch_updated_at
  before insert or update on public.user_preferences
  for each row execute function private.touch_updated_at();

-- API access: a user reads, writes and resets their own settings; the key is set once.
revoke all on table public.user_preferences from anon, authenticated, service_role;
grant select, delete on table public.user_preferences to authenticated;
grant insert (user_id, settings) on table public.user_preferences to authenticated;
grant update (settings) on table public.user_preferences to authenticated;
grant select, insert, update, delete on table public.user_preferences to service_role;

alter table public.user_preferences enable row level security;

create policy user_preferences_select_own on public.user_preferences
  for select
  to authenticated
  using (user_id = (select auth.uid()));

create policy user_preferences_insert_own on public.user_preferences
  for insert
  to authenticated
  with check (user_id = (select auth.uid()));

create policy user_preferences_update_own on public.user_preferences
  for update
  to authenticated
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()));

create policy user_preferences_delete_own on public.user_preferences
  for delete
  to authenticated
  using (user_id = (select auth.uid()));
