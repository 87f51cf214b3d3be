-- Why: lift-sys measures itself: what users do in a session (event_type, event_data), how long
-- each step took (latency_ms), and how sessions end. Events are append-only and pile up by
-- time, and old ones are dropped as a whole, so the table is partitioned by month on created_at:
-- dropping a month is dropping a table, not a mass DELETE, and a month's queries read one
-- partition.
--
-- A DEFAULT partition takes any row whose month has no partition yet, so that no insert is ever
-- rejected because maintenance lagged behind the calendar. The maintenance functions (next
-- migration) create monthly partitions ahead and move such rows out of the default partition.
--
-- Partitions live in schema `partitions`, which the API does not expose and no API role may use:
-- clients reach events only through public.analytics_events, where RLS applies. (A partition
-- addressed directly would be checked against its own policies, not the parent's.) Each
-- partition also has RLS enabled and no grants, so even a stray grant on the schema opens
-- nothing.
--
-- Who may do what: a user records events as themselves, for no session or for a session they
-- can read (own or shared with them), and reads only their own events. Events are never
-- updated; service_role reads, records and deletes any. An event for a session the caller cannot
-- see fails with PT404 "session … not found", as update_session_ir does; nothing is written.
--
-- Conventions the analytics views rely on: event_data.prompt_type (a string) classifies the
-- prompt; a session's outcome is recorded as event_type `session_finalized` or
-- `session_abandoned`.

-- On a live project, wait briefly for locks and then fail, rather than queue behind traffic and
-- block it; the file rolls back whole and can simply be re-run. Session-level on purpose: the CLI
-- pipelines a file without a transaction block, where SET LOCAL does nothing, and both the CLI
-- and lift-db run RESET ALL between files.
set lock_timeout = '5s';
set statement_timeout = '60s';

create schema if not exists partitions;
revoke all on schema partitions from public;
revoke all on schema partitions from anon, authenticated, service_role;

create table public.analytics_events (
  id uuid not null default gen_random_uuid(),
  -- An event outlives its session: deleting a session keeps its events for the statistics.
  session_id uuid references public.sessions (id) on delete set null,
  user_id uuid not null default auth.uid() references public.users (id) on delete cascade,
  event_type text not null,
  event_data jsonb not null default '{}'::jsonb,
  -- Milliseconds fit an integer (24 days) and the app measures steps of seconds.
  -- squawk-ignore prefer-bigint-over-int
  latency_ms integer,
  created_at timestamptz not null default now(),
  -- A primary key of a partitioned table must include the partition key.
  constraint analytics_events_pkey primary key (id, created_at),
  constraint analytics_events_event_type_format check (event_type ~ '^[a-z][a-z0-9_.:-]{0,63}$'),
  constraint analytics_events_event_data_object check (jsonb_typeof(event_data) = 'object'),
  constraint analytics_events_event_data_size check (octet_length(event_data::text) <= 65536),
  constraint analytics_events_prompt_type_text check (
    event_data -> 'prompt_type' is null or jsonb_typeof(event_data -> 'prompt_type') = 'string'
  ),
  constraint analytics_events_latency_ms_not_negative check (latency_ms >= 0)
) partition by range (created_at);

comment on table public.analytics_events is
  'Append-only usage events, partitioned by month on created_at (partitions in schema partitions).';
comment on column public.analytics_events.event_data is
  'JSON object; prompt_type (string) classifies the prompt for the analytics views.';
comment on column public.analytics_events.latency_ms is
  'How long the step took, in milliseconds (0 or more); null when not timed.';

-- Partitioned indexes: every partition gets its own. A user's events by time (also the policies
-- and the user foreign key), a session's events (its foreign key), and events by type and time.
create index analytics_events_user_id_created_at_idx
  on public.analytics_events (user_id, created_at desc);
create index analytics_events_session_id_idx on public.analytics_events (session_id);
create index analytics_events_event_type_created_at_idx
  on public.analytics_events (event_type, created_at desc);

create table partitions.analytics_events_default
  partition of public.analytics_events default;
alter table partitions.analytics_events_default enable row level security;
revoke all on table partitions.analytics_events_default from anon, authenticated, service_role;

-- Runs as the caller, so the caller's RLS on public.sessions decides what "exists": a session
-- that is missing and one the caller may not read look the same.
create function private.check_event_session() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.session_id is not null
     and not exists (select from public.sessions as s where s.id = new.session_id) then
    raise exception 'session % not found', new.session_id
      using errcode = 'PT404',
            hint = 'the session does not exist or the caller may not read it';
  end if;
  return new;
end
$$;

revoke execute on function private.check_event_session() from public;

create trigger analytics_events_check_session
  before insert on public.analytics_events
  for each row execute function private.check_event_session();

-- API access: users record events (the database stamps id and created_at) and read their own;
-- nobody updates an event. anon gets nothing.
revoke all on table public.analytics_events from anon, authenticated, service_role;
grant select on table public.analytics_events to authenticated;
grant insert (session_id, user_id, event_type, event_data, latency_ms)
  on table public.analytics_events to authenticated;
grant select, insert, delete on table public.analytics_events to service_role;

alter table public.analytics_events enable row level security;

create policy analytics_events_select_own on public.analytics_events
  for select
  to authenticated
  using (user_id = (select auth.uid()));

create policy analytics_events_insert_own on public.analytics_events
  for insert
  to authenticated
  with check (
    user_id = (select auth.uid())
    and (session_id is null or session_id in (select private.readable_session_ids()))
  );
