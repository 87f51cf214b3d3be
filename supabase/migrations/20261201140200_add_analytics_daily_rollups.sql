-- Why: dashboards aggregated public.analytics_events on every read: "the last 30 days by event
-- type, every user" read some 80,000 events (55 ms at the default bench scale) and grows with
-- traffic. Daily roll-ups answer the same question from a few hundred rows.
--
--   public.analytics_daily          per user, UTC day, event type and prompt type: events,
--                                   successes (session_finalized), events with a latency and
--                                   the sum of their latencies. Users read their own rows (RLS).
--   public.analytics_daily_totals   per UTC day and event type, every user together, in 8 slots
--                                   (below): what a service dashboard reads. service_role only.
--
-- Maintained as events arrive, not by a scheduled job: an AFTER INSERT statement trigger adds
-- each statement's events, grouped, to both tables in the inserting transaction. So a figure is
-- never late: it is committed with the events it counts, and a rolled-back insert counts
-- nothing. A scheduled job would have made every figure up to one period stale and needed a
-- watermark for late events (events whose created_at is older than the last run, as any
-- service_role writer may record); the trigger adds a late event to its own day like any other.
-- Its cost is one upsert per group per insert statement. Concurrent inserters of one user wait
-- for each other's row lock on that user's day until commit; the all-users totals would make
-- every inserter wait on the same few rows, so each transaction adds to one of 8 slots (chosen
-- by its backend process) and readers sum the slots. Rows are upserted in key order, so two
-- multi-row inserts cannot deadlock on them.
--
-- Removing events subtracts them: a DELETE (service_role) through an AFTER DELETE statement
-- trigger; retention (partitions dropped or detached by
-- private.maintain_analytics_events_partitions, replaced here) deletes the roll-ups of the
-- month's days, which are whole UTC days like the partitions' bounds. Moving rows between
-- partitions (private.create_analytics_events_partition) runs on the partitions directly and
-- fires no statement trigger of the parent: the rows stay, the roll-ups too. Events are never
-- updated (no role is granted UPDATE). Whatever else removes events (an operator's DDL) is
-- repaired by private.rebuild_analytics_rollups(since, until), which recomputes the days of a
-- range from the events; the benchmark's bulk load, which runs with triggers off, uses it too.
--
-- Percentiles stay with the events: public.analytics_latency_by_event_type and
-- public.analytics_latency_by_prompt_type give exact (interpolated) percentiles, which no
-- mergeable sketch reproduces; they read one user's events through the (user_id, created_at)
-- index. public.analytics_success_rates reads the roll-up.
--
-- The tables are written only by the SECURITY DEFINER trigger functions: API roles have SELECT
-- alone (service_role included), so no client can forge a figure.

-- On a live project, wait briefly for locks and then fail, rather than queue behind traffic.
-- The backfill reads every event once.
set lock_timeout = '5s';
set statement_timeout = '300s';

create table public.analytics_daily (
  user_id uuid not null references public.users (id) on delete cascade,
  day date not null,
  event_type text not null,
  prompt_type text not null,
  events bigint not null,
  successes bigint not null,
  latency_events bigint not null,
  latency_sum_ms bigint not null,
  constraint analytics_daily_pkey primary key (user_id, day, event_type, prompt_type)
);

comment on table public.analytics_daily is
  'Daily roll-up of public.analytics_events per user, UTC day, event type and prompt type, '
  'kept by trigger in the inserting transaction.';
comment on column public.analytics_daily.successes is
  'Events of type session_finalized (a session that ended well).';
comment on column public.analytics_daily.latency_sum_ms is
  'Sum of latency_ms over the latency_events events that carry one.';

create table public.analytics_daily_totals (
  day date not null,
  event_type text not null,
  -- One of 8 rows per day and type that concurrent inserters spread over; readers sum them.
  -- 0 to 7.
  -- squawk-ignore prefer-bigint-over-smallint
  slot smallint not null,
  events bigint not null,
  successes bigint not null,
  latency_events bigint not null,
  latency_sum_ms bigint not null,
  constraint analytics_daily_totals_pkey primary key (day, event_type, slot)
);

comment on table public.analytics_daily_totals is
  'Daily roll-up of public.analytics_events per UTC day and event type, every user; sum the '
  'slots. service_role only.';

-- API access: read-only. Users read their own daily rows; the totals are every user's, so only
-- service_role reads them (RLS on, no policy: a stray grant would still show nothing).
revoke all on table public.analytics_daily from anon, authenticated, service_role;
revoke all on table public.analytics_daily_totals from anon, authenticated, service_role;
grant select on table public.analytics_daily to authenticated, service_role;
grant select on table public.analytics_daily_totals to service_role;

alter table public.analytics_daily enable row level security;
alter table public.analytics_daily_totals enable row level security;

-- service_role bypasses RLS; the policy states who reads the totals. Nobody else has a grant.
create policy analytics_daily_totals_select_service on public.analytics_daily_totals
  for select
  to service_role
  using (true);

create policy analytics_daily_select_own on public.analytics_daily
  for select
  to authenticated
  using (user_id = (select auth.uid()));

-- One statement's events, added (insert) or subtracted (delete), grouped, to both roll-ups; daily
-- rows left with no event are removed. The transition tables are visible here alone, so the
-- statements name them in the function itself; an unqualified transition table's name is
-- resolved before any temp table of the caller.
create function private.maintain_analytics_rollups() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  source text := case tg_op when 'INSERT' then 'inserted_events' else 'deleted_events' end;
  sign integer := case tg_op when 'INSERT' then 1 else -1 end;
begin
  -- Deleted events are subtracted from the daily rows that counted them; when the events go
  -- because their user is deleted, those rows are gone already (or going), and nothing is
  -- inserted back for a user who no longer exists.
  execute format(
    'with g as ('
    ' select e.user_id, (e.created_at at time zone %1$L)::pg_catalog.date as day, e.event_type,'
    '        coalesce(e.event_data operator(pg_catalog.->>) %2$L, %3$L) as prompt_type,'
    '        count(*) as events, count(*) filter (where e.event_type = %4$L) as successes,'
    '        count(e.latency_ms) as latency_events,'
    '        coalesce(sum(e.latency_ms), 0) as latency_sum_ms'
    '   from %5$I as e'
    '  group by 1, 2, 3, 4)'
    || case tg_op
         when 'INSERT' then
           ' insert into public.analytics_daily as d'
           ' (user_id, day, event_type, prompt_type, events, successes, latency_events,'
           '  latency_sum_ms)'
           ' select * from g order by 1, 2, 3, 4'
           ' on conflict (user_id, day, event_type, prompt_type) do update'
           '    set events = d.events + excluded.events,'
           '        successes = d.successes + excluded.successes,'
           '        latency_events = d.latency_events + excluded.latency_events,'
           '        latency_sum_ms = d.latency_sum_ms + excluded.latency_sum_ms'
         else
           ' update public.analytics_daily as d'
           '    set events = d.events - g.events,'
           '        successes = d.successes - g.successes,'
           '        latency_events = d.latency_events - g.latency_events,'
           '        latency_sum_ms = d.latency_sum_ms - g.latency_sum_ms'
           '   from g'
           '  where d.user_id = g.user_id and d.day = g.day and d.event_type = g.event_type'
           '    and d.prompt_type = g.prompt_type'
       end,
    'UTC', 'prompt_type', 'unspecified', 'session_finalized', source);
  execute format(
    'insert into public.analytics_daily_totals as t'
    ' (day, event_type, slot, events, successes, latency_events, latency_sum_ms)'
    ' select (e.created_at at time zone %1$L)::pg_catalog.date, e.event_type, %2$s,'
    '        %3$s * count(*), %3$s * count(*) filter (where e.event_type = %4$L),'
    '        %3$s * count(e.latency_ms), %3$s * coalesce(sum(e.latency_ms), 0)'
    '   from %5$I as e'
    '  group by 1, 2 order by 1, 2'
    ' on conflict (day, event_type, slot) do update'
    '    set events = t.events + excluded.events,'
    '        successes = t.successes + excluded.successes,'
    '        latency_events = t.latency_events + excluded.latency_events,'
    '        latency_sum_ms = t.latency_sum_ms + excluded.latency_sum_ms',
    'UTC', pg_catalog.pg_backend_pid() % 8, sign, 'session_finalized', source);
  if tg_op = 'DELETE' then
    delete from public.analytics_daily as d where d.events = 0;
  end if;
  return null;
end
$$;

revoke execute on function private.maintain_analytics_rollups() from public;

-- Statement triggers: one run per statement, however many rows it writes. They fire for
-- statements on public.analytics_events, not for those that move rows between its partitions.
create trigger analytics_events_200_add_rollups
  after insert on public.analytics_events
  referencing new table as inserted_events
  for each statement execute function private.maintain_analytics_rollups();

create trigger analytics_events_210_subtract_rollups
  after delete on public.analytics_events
  referencing old table as deleted_events
  for each statement execute function private.maintain_analytics_rollups();

-- The roll-ups of the days in [since, until) recomputed from the events, every other day left
-- alone. For repair, and for loads that ran with triggers off. Inserts wait meanwhile (the lock),
-- so no event is counted twice or missed.
create function private.rebuild_analytics_rollups(since date, until date) returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  lower_bound timestamptz := rebuild_analytics_rollups.since::timestamp at time zone 'UTC';
  upper_bound timestamptz := rebuild_analytics_rollups.until::timestamp at time zone 'UTC';
begin
  if lower_bound is null or upper_bound is null then
    raise exception 'since and until must not be null' using errcode = '22004';
  end if;
  lock table public.analytics_events in share mode;
  delete from public.analytics_daily as d
   where d.day >= rebuild_analytics_rollups.since and d.day < rebuild_analytics_rollups.until;
  delete from public.analytics_daily_totals as t
   where t.day >= rebuild_analytics_rollups.since and t.day < rebuild_analytics_rollups.until;
  insert into public.analytics_daily
    (user_id, day, event_type, prompt_type, events, successes, latency_events, latency_sum_ms)
  select e.user_id, (e.created_at at time zone 'UTC')::pg_catalog.date, e.event_type,
         coalesce(e.event_data operator(pg_catalog.->>) 'prompt_type', 'unspecified'),
         count(*), count(*) filter (where e.event_type = 'session_finalized'),
         count(e.latency_ms), coalesce(sum(e.latency_ms), 0)
    from public.analytics_events as e
   where e.created_at >= lower_bound and e.created_at < upper_bound
   group by 1, 2, 3, 4;
  insert into public.analytics_daily_totals
    (day, event_type, slot, events, successes, latency_events, latency_sum_ms)
  select d.day, d.event_type, 0, sum(d.events), sum(d.successes), sum(d.latency_events),
         sum(d.latency_sum_ms)
    from public.analytics_daily as d
   where d.day >= rebuild_analytics_rollups.since and d.day < rebuild_analytics_rollups.until
   group by 1, 2;
end
$$;

revoke execute on function private.rebuild_analytics_rollups(date, date) from public;

-- Retention: the roll-ups of a month whose partition was dropped or detached.
create function private.forget_analytics_rollups(range_from timestamptz, range_to timestamptz)
returns void
language sql
security definer
set search_path = pg_catalog, pg_temp
as $$
  delete from public.analytics_daily as d
   where d.day >= (forget_analytics_rollups.range_from at time zone 'UTC')::pg_catalog.date
     and d.day < (forget_analytics_rollups.range_to at time zone 'UTC')::pg_catalog.date;
  delete from public.analytics_daily_totals as t
   where t.day >= (forget_analytics_rollups.range_from at time zone 'UTC')::pg_catalog.date
     and t.day < (forget_analytics_rollups.range_to at time zone 'UTC')::pg_catalog.date;
$$;

revoke execute on function private.forget_analytics_rollups(timestamptz, timestamptz) from public;

-- The daily maintenance, as before, now also forgetting the roll-ups of the months it removes.
create or replace function private.maintain_analytics_events_partitions(
  months_ahead integer default 3,
  retention_months integer default null,
  expired_action text default 'detach'
) returns table (action text, partition_name text, row_count bigint)
language plpgsql
set search_path = pg_catalog, pg_temp
set lock_timeout = '5s'
as $$
declare
  this_month date := date_trunc('month', now() at time zone 'UTC')::date;
  cutoff timestamptz;
  month date;
  expired record;
begin
  if months_ahead is null or months_ahead not between 0 and 120 then
    raise exception 'months_ahead must be between 0 and 120, not %',
      coalesce(months_ahead::text, 'null')
      using errcode = '22023';
  end if;
  if retention_months < 0 then
    raise exception 'retention_months must be 0 or more (or null: keep everything), not %',
      retention_months
      using errcode = '22023';
  end if;
  if expired_action is null or expired_action not in ('detach', 'drop') then
    raise exception 'expired_action must be detach or drop, not %',
      coalesce(expired_action, 'null')
      using errcode = '22023';
  end if;

  -- 1. Months stranded in the default partition.
  for month in
    select distinct date_trunc('month', d.created_at at time zone 'UTC')::date
      from partitions.analytics_events_default as d
     order by 1
  loop
    action := 'created';
    partition_name := format('partitions.analytics_events_p%s', to_char(month, 'YYYY_MM'));
    row_count := private.create_analytics_events_partition(month);
    return next;
  end loop;

  -- 2. This month and the months ahead.
  for month in
    select (this_month + make_interval(months => m))::date
      from generate_series(0, months_ahead) as m
  loop
    if not exists (
      select from private.analytics_events_partitions() as p
       where p.range_from = month::timestamp at time zone 'UTC'
    ) then
      action := 'created';
      partition_name := format('partitions.analytics_events_p%s', to_char(month, 'YYYY_MM'));
      row_count := private.create_analytics_events_partition(month);
      return next;
    end if;
  end loop;

  -- 3. Retention.
  if retention_months is null then
    return;
  end if;
  cutoff := (this_month - make_interval(months => retention_months))::timestamp at time zone 'UTC';
  for expired in
    select p.partition_name, p.range_from, p.range_to
      from private.analytics_events_partitions() as p
     where p.range_to <= cutoff
     order by p.range_from
  loop
    partition_name := expired.partition_name;
    row_count := null;
    if expired_action = 'drop' then
      execute format('drop table %s', expired.partition_name);
      action := 'dropped';
    else
      execute format('alter table public.analytics_events detach partition %s',
                     expired.partition_name);
      action := 'detached';
    end if;
    -- The roll-ups follow: the month's events are no longer in the table.
    perform private.forget_analytics_rollups(expired.range_from, expired.range_to);
    return next;
  end loop;
end
$$;


revoke execute on function private.maintain_analytics_events_partitions(integer, integer, text)
  from public;

-- The events already recorded.
select private.rebuild_analytics_rollups('-infinity', 'infinity');

-- public.analytics_success_rates from the roll-up: same columns, same rows, same figures.
create or replace view public.analytics_success_rates
with (security_invoker = true)
as
select
  d.user_id,
  d.prompt_type,
  coalesce(sum(d.successes) filter (where d.event_type = 'session_finalized'), 0)::bigint
    as finalized,
  coalesce(sum(d.events) filter (where d.event_type = 'session_abandoned'), 0)::bigint
    as abandoned,
  round(
    coalesce(sum(d.successes) filter (where d.event_type = 'session_finalized'), 0)::numeric
    / sum(d.events), 4
  ) as success_rate
from public.analytics_daily as d
where d.event_type in ('session_finalized', 'session_abandoned')
group by d.user_id, d.prompt_type;
