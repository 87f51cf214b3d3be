-- The daily roll-ups of public.analytics_events (public.analytics_daily, per user; and
-- public.analytics_daily_totals, every user) and who may touch them. Attacks first: no API role
-- writes a figure, directly or by shadowing the trigger's transition table with a temp table.
-- Then: users read only their own daily rows, anon nothing, the totals only service_role; the
-- roll-ups equal the raw aggregate after inserts, late (back-dated) events, deletes and
-- retention, and public.analytics_success_rates reads them.
begin;
select plan(27);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('mallory');
select private.maintain_analytics_events_partitions(0);

-- The raw aggregates the roll-ups must equal, as the table owner (no RLS). The totals are
-- compared for this file's event types: other suites' events (dropped with their partitions
-- by hand, outside the maintenance) are not this file's to judge.
create temporary view event_keys as
select
  e.user_id,
  e.event_type,
  e.latency_ms,
  (e.created_at at time zone 'UTC')::date as day,
  coalesce(e.event_data ->> 'prompt_type', 'unspecified') as prompt_type
from public.analytics_events as e;
create temporary view raw_daily as
select
  k.user_id,
  k.day,
  k.event_type,
  k.prompt_type,
  count(*) as events,
  count(*) filter (where k.event_type = 'session_finalized') as successes,
  count(k.latency_ms) as latency_events,
  coalesce(sum(k.latency_ms), 0) as latency_sum_ms
from event_keys as k
group by k.user_id, k.day, k.event_type, k.prompt_type;
create temporary view raw_totals as
select
  k.day,
  k.event_type,
  count(*) as events,
  count(*) filter (where k.event_type = 'session_finalized') as successes,
  count(k.latency_ms) as latency_events,
  coalesce(sum(k.latency_ms), 0) as latency_sum_ms
from event_keys as k
where k.event_type in ('ir_generated', 'hole_resolved', 'session_finalized', 'session_abandoned')
group by k.day, k.event_type;
create temporary view rolled_totals as
select
  t.day,
  t.event_type,
  sum(t.events) as events,
  sum(t.successes) as successes,
  sum(t.latency_events) as latency_events,
  sum(t.latency_sum_ms) as latency_sum_ms
from public.analytics_daily_totals as t
where t.event_type in ('ir_generated', 'hole_resolved', 'session_finalized', 'session_abandoned')
group by t.day, t.event_type
having sum(t.events) <> 0;

-- Attacks.
select tests.authenticate_as('mallory');
select throws_ok(
  $$insert into public.analytics_daily
      (user_id, day, event_type, prompt_type, events, successes, latency_events, latency_sum_ms)
    values (tests.get_supabase_uid('mallory'), current_date, 'x', 'y', 1000, 1000, 0, 0)$$,
  '42501', 'permission denied for table analytics_daily',
  'a user cannot write a daily figure'
);
select throws_ok(
  $$update public.analytics_daily set events = 1000$$,
  '42501', 'permission denied for table analytics_daily', 'nor change one'
);
select throws_ok(
  $$delete from public.analytics_daily$$,
  '42501', 'permission denied for table analytics_daily', 'nor delete one'
);
select throws_ok(
  $$select * from public.analytics_daily_totals$$,
  '42501', 'permission denied for table analytics_daily_totals',
  'a user cannot read the all-users totals'
);
select throws_ok(
  $$select private.rebuild_analytics_rollups('-infinity', 'infinity')$$,
  '42501', 'permission denied for schema private', 'nor call the roll-up functions'
);
-- A temp table named like the trigger's transition table, full of forged events.
create temporary table inserted_events as
select
  'forged'::text as event_type,
  '{}'::jsonb as event_data,
  1 as latency_ms,
  tests.get_supabase_uid('mallory') as user_id,
  now() as created_at
from generate_series(1, 50);
insert into public.analytics_events (event_type, latency_ms) values ('ir_generated', 10);
select results_eq(
  $$select event_type, events, latency_sum_ms from public.analytics_daily$$,
  $$values ('ir_generated'::text, 1::bigint, 10::bigint)$$,
  'the trigger counts the inserted event, not the temp table that shadows its name'
);

select tests.authenticate_as_service_role();
select throws_ok(
  $$insert into public.analytics_daily_totals
      (day, event_type, slot, events, successes, latency_events, latency_sum_ms)
    values (current_date, 'x', 0, 1, 0, 0, 0)$$,
  '42501', 'permission denied for table analytics_daily_totals',
  'service_role reads the roll-ups but cannot write them either'
);

-- Events, as users record them.
select tests.authenticate_as('alice');
insert into public.analytics_events (event_type, event_data, latency_ms) values
  ('ir_generated', '{"prompt_type": "workflow"}', 100),
  ('ir_generated', '{"prompt_type": "workflow"}', 300),
  ('ir_generated', '{}', null),
  ('session_finalized', '{"prompt_type": "workflow"}', null),
  ('session_abandoned', '{"prompt_type": "workflow"}', null),
  ('session_finalized', '{}', 5);
insert into public.analytics_events (event_type, latency_ms) values ('hole_resolved', 7);

-- RLS on the daily rows.
select results_eq(
  $$select count(*)::integer, sum(events)::integer from public.analytics_daily$$,
  $$values (6, 7)$$,
  'Alice reads her own daily rows: 6 groups, 7 events'
);
select is_empty(
  $$select from public.analytics_daily where user_id <> tests.get_supabase_uid('alice')$$,
  'and nobody else''s'
);
select results_eq(
  $$select prompt_type, finalized, abandoned, success_rate from public.analytics_success_rates
     order by prompt_type$$,
  $$values ('unspecified'::text, 1::bigint, 0::bigint, 1.0000::numeric),
           ('workflow', 1, 1, 0.5000)$$,
  'her success rates come from the roll-up'
);
select tests.authenticate_as('mallory');
select results_eq(
  $$select user_id, events from public.analytics_daily$$,
  $$values (tests.get_supabase_uid('mallory'), 1::bigint)$$,
  'Mallory reads only her own row'
);
select tests.authenticate_as_anon();
select throws_ok(
  $$select * from public.analytics_daily$$,
  '42501', 'permission denied for table analytics_daily', 'anon reads nothing'
);
select tests.authenticate_as_service_role();
select ok(
  (select array_agg(distinct user_id) from public.analytics_daily)
    @> array[tests.get_supabase_uid('alice'), tests.get_supabase_uid('mallory')],
  'service_role reads every user''s daily rows'
);
select tests.clear_authentication();
select set_eq('select * from public.analytics_daily', 'select * from raw_daily',
              'after inserts, the daily roll-up equals the raw aggregate');
select set_eq('select * from rolled_totals', 'select * from raw_totals',
              'and so do the totals');

-- Late events: back-dated by service_role into last month, last year and a month with no
-- partition (the default partition takes it).
select tests.authenticate_as_service_role();
insert into public.analytics_events (user_id, event_type, latency_ms, created_at) values
  (tests.get_supabase_uid('alice'), 'ir_generated', 40, now() - interval '35 days'),
  (tests.get_supabase_uid('alice'), 'ir_generated', 60, now() - interval '35 days'),
  (tests.get_supabase_uid('alice'), 'session_finalized', null, now() - interval '1 year'),
  (tests.get_supabase_uid('mallory'), 'ir_generated', 1, '2001-02-03 04:05:06+00');
select tests.clear_authentication();
select set_eq('select * from public.analytics_daily', 'select * from raw_daily',
              'late events land on their own day');
select set_eq('select * from rolled_totals', 'select * from raw_totals',
              'in the totals too');

-- Maintenance moves the stranded month into a partition of its own: nothing is counted twice.
select private.maintain_analytics_events_partitions(0);
select set_eq('select * from public.analytics_daily', 'select * from raw_daily',
              'moving events between partitions changes no figure');

-- service_role deletes events.
select tests.authenticate_as_service_role();
delete from public.analytics_events where latency_ms = 300 or latency_ms = 1;
select tests.clear_authentication();
select set_eq('select * from public.analytics_daily', 'select * from raw_daily',
              'deleted events are subtracted');
select set_eq('select * from rolled_totals', 'select * from raw_totals',
              'from the totals too');
select is_empty(
  $$select from public.analytics_daily where day = '2001-02-03'$$,
  'and a day left with no event has no row'
);

-- Deleting a user deletes their events (cascade): their daily rows go, the totals lose them.
delete from auth.users where id = tests.get_supabase_uid('mallory');
select set_eq('select * from public.analytics_daily', 'select * from raw_daily',
              'a deleted user''s daily rows go with their events');
select set_eq('select * from rolled_totals', 'select * from raw_totals',
              'and the totals no longer count them');

-- Retention drops every month before this one.
select private.maintain_analytics_events_partitions(0, 0, 'drop');
select is_empty(
  $$select from public.analytics_daily
     where day < date_trunc('month', now() at time zone 'UTC')::date$$,
  'retention forgets the dropped months'' daily rows'
);
select set_eq('select * from public.analytics_daily', 'select * from raw_daily',
              'and the roll-up still equals the raw aggregate');
select set_eq('select * from rolled_totals', 'select * from raw_totals',
              'and the totals');

-- A rebuild recomputes from the events what a load with triggers off left out.
delete from public.analytics_daily;
delete from public.analytics_daily_totals;
select private.rebuild_analytics_rollups('-infinity', 'infinity');
select set_eq('select * from public.analytics_daily', 'select * from raw_daily',
              'a rebuild restores the daily roll-up');

select * from finish();
rollback;
