-- Monthly partitions of public.analytics_events, maintained as the table owner (`postgres`, not a
-- superuser). An event in a month without a partition is stored (in the default partition) and
-- counted; creating that month's partition afterwards moves exactly that month's rows into it
-- and keeps every row; maintenance creates the months ahead and gives stranded months their
-- partition; retention drops or detaches only partitions older than its window.
begin;
select plan(33);

select tests.create_supabase_user('alice');
select tests.create_session('alice', 'measured prompt');

-- Months far ahead have no partition: their events land in the default partition.
select tests.authenticate_as_service_role();
insert into public.analytics_events (session_id, user_id, event_type, event_data, latency_ms,
                                     created_at)
values
  (tests.get_session_id('measured prompt'), tests.get_supabase_uid('alice'), 'session_finalized',
   '{"prompt_type": "function"}', 1200, '2091-07-15 12:00:00+00'),
  (null, tests.get_supabase_uid('alice'), 'ir_generated', '{}', 40, '2091-06-30 23:59:59.999999+00'),
  (null, tests.get_supabase_uid('alice'), 'ir_generated', '{}', 60, '2091-08-01 00:00:00+00');
select tests.clear_authentication();

select results_eq(
  $$select tableoid::regclass::text from public.analytics_events
     where created_at >= '2091-01-01' order by created_at$$,
  array['partitions.analytics_events_default', 'partitions.analytics_events_default',
        'partitions.analytics_events_default'],
  'events of months without a partition are stored in the default partition'
);
select tests.authenticate_as('alice');
select results_eq(
  $$select finalized, abandoned, success_rate from public.analytics_success_rates
     where prompt_type = 'function'$$,
  $$values (1::bigint, 0::bigint, 1.0000::numeric)$$,
  'and counted: the success rate includes the event in the default partition'
);
select tests.clear_authentication();
select set_config(
  'test.events_digest',
  (select md5(jsonb_agg(to_jsonb(e) order by e.id)::text) from public.analytics_events as e
    where e.created_at >= '2091-01-01'),
  true
);

-- Creating the partition of a month whose rows sit in the default partition.
select is(private.create_analytics_events_partition('2091-07-20'), 1::bigint,
          'creating July 2091''s partition moves its one row out of the default partition');
select results_eq(
  $$select tableoid::regclass::text from public.analytics_events
     where created_at >= '2091-01-01' order by created_at$$,
  array['partitions.analytics_events_default', 'partitions.analytics_events_p2091_07',
        'partitions.analytics_events_default'],
  'July''s row is in July''s partition; the rows on either side of its bounds stay put'
);
select is(
  (select md5(jsonb_agg(to_jsonb(e) order by e.id)::text) from public.analytics_events as e
    where e.created_at >= '2091-01-01'),
  current_setting('test.events_digest'),
  'every row is kept, unchanged'
);
select results_eq(
  $$select range_from, range_to from private.analytics_events_partitions()
     where partition_name = 'partitions.analytics_events_p2091_07'$$,
  $$values ('2091-07-01 00:00:00+00'::timestamptz, '2091-08-01 00:00:00+00'::timestamptz)$$,
  'the partition covers the UTC calendar month'
);
select throws_ok(
  $$select private.create_analytics_events_partition('2091-07-01')$$,
  '42P07', 'analytics_events already has a partition for 2091-07',
  'a month gets one partition'
);
select tests.authenticate_as_service_role();
select results_eq(
  $$insert into public.analytics_events (user_id, event_type, created_at)
    values (tests.get_supabase_uid('alice'), 'ir_generated', '2091-07-02 00:00:00+00')
    returning tableoid::regclass::text$$,
  array['partitions.analytics_events_p2091_07'],
  'a new event of that month goes straight to its partition'
);
select tests.clear_authentication();

-- The new partition is as guarded and indexed as the rest.
select ok(
  (select c.relrowsecurity from pg_catalog.pg_class as c
    where c.oid = 'partitions.analytics_events_p2091_07'::regclass),
  'the new partition has RLS enabled'
);
select table_privs_are('partitions', 'analytics_events_p2091_07', 'authenticated', array[]::text[],
                       'authenticated has no privilege on the partition itself');
select table_privs_are('partitions', 'analytics_events_p2091_07', 'anon', array[]::text[],
                       'anon has no privilege on the partition itself');
select is(
  (select count(*)::integer from pg_catalog.pg_index as i
    where i.indrelid = 'partitions.analytics_events_p2091_07'::regclass),
  4,
  'the new partition has the primary key and the three indexes of the parent'
);
select is(
  (select count(*)::integer from pg_catalog.pg_constraint as c
    where c.conrelid = 'partitions.analytics_events_p2091_07'::regclass and c.contype = 'f'),
  2,
  'the new partition has the parent''s two foreign keys'
);
select is(
  (select count(*)::integer from pg_catalog.pg_trigger as t
    where t.tgrelid = 'partitions.analytics_events_p2091_07'::regclass
      and t.tgname = 'analytics_events_check_session'),
  1,
  'the new partition checks an event''s session like the parent'
);

-- Maintenance gives stranded months their partition and creates the months ahead.
select set_config('test.this_month', date_trunc('month', now() at time zone 'UTC')::date::text,
                  true);
select bag_eq(
  $$select action, partition_name, row_count
      from private.maintain_analytics_events_partitions(5)
     where partition_name like '%2091%'$$,
  $$values ('created', 'partitions.analytics_events_p2091_06', 1::bigint),
           ('created', 'partitions.analytics_events_p2091_08', 1::bigint)$$,
  'maintenance moves each stranded month into its own partition'
);
select is_empty('select * from partitions.analytics_events_default',
                'the default partition is empty after maintenance');
select is(
  (select count(*)::integer from private.analytics_events_partitions() as p
    where p.range_from in (select (current_setting('test.this_month')::date
                                   + make_interval(months => m))::timestamp at time zone 'UTC'
                             from generate_series(0, 5) as m)),
  6,
  'this month and the five ahead have their partitions'
);
select is(
  (select md5(jsonb_agg(to_jsonb(e) order by e.id)::text) from public.analytics_events as e
    where e.created_at >= '2091-01-01' and e.created_at <> '2091-07-02 00:00:00+00'),
  current_setting('test.events_digest'),
  'after maintenance every row is still there, unchanged'
);
select is_empty(
  $$select * from private.maintain_analytics_events_partitions(5)$$,
  'maintenance run again has nothing to do'
);

-- A session time zone other than UTC changes nothing: months are UTC months.
set local timezone = 'America/Los_Angeles';
select tests.authenticate_as_service_role();
insert into public.analytics_events (user_id, event_type, created_at)
values (tests.get_supabase_uid('alice'), 'ir_generated', '2092-03-31 20:00:00-07');
select tests.clear_authentication();
select results_eq(
  $$select action, partition_name from private.maintain_analytics_events_partitions(0)$$,
  $$values ('created', 'partitions.analytics_events_p2092_04')$$,
  'an event at 20:00 on 31 March in Los Angeles belongs to April, UTC'
);
reset timezone;

-- Retention. Events in past months, each in a partition of its own after maintenance.
select tests.authenticate_as_service_role();
insert into public.analytics_events (user_id, event_type, created_at)
select
  tests.get_supabase_uid('alice') as user_id,
  'retention_probe' as event_type,
  (current_setting('test.this_month')::date - make_interval(months => m))::timestamp
  at time zone 'UTC' + interval '3 days' as created_at
from unnest(array[6, 4, 3, 2, 1]) as m;
select tests.clear_authentication();
select private.maintain_analytics_events_partitions(0);

select set_config(
  'test.dropped',
  (select jsonb_agg(r.partition_name order by r.partition_name)::text
     from private.maintain_analytics_events_partitions(0, 3, 'drop') as r
    where r.action = 'dropped'),
  true
);
select ok(
  current_setting('test.dropped')::jsonb
    @> jsonb_build_array(
         format('partitions.analytics_events_p%s',
                to_char(current_setting('test.this_month')::date - interval '6 months', 'YYYY_MM')),
         format('partitions.analytics_events_p%s',
                to_char(current_setting('test.this_month')::date - interval '4 months', 'YYYY_MM'))),
  'retention of 3 months drops the partitions 6 and 4 months back'
);
select is_empty(
  $$select * from jsonb_array_elements_text(current_setting('test.dropped')::jsonb) as d (name)
     where to_date(right(d.name, 7), 'YYYY_MM')
           >= current_setting('test.this_month')::date - interval '3 months'$$,
  'it drops nothing that ends after the window starts'
);
select results_eq(
  $$select (extract(year from age(current_setting('test.this_month')::date,
                                  date_trunc('month', created_at at time zone 'UTC')::date)) * 12
          + extract(month from age(current_setting('test.this_month')::date,
                                   date_trunc('month', created_at at time zone 'UTC')::date)))::integer
      from public.analytics_events
     where event_type = 'retention_probe'
     order by created_at$$,
  array[3, 2, 1],
  'the events of the last three months are kept; those older are gone'
);
select is_empty(
  $$select * from private.analytics_events_partitions() as p
     where p.range_to <= (current_setting('test.this_month')::date - interval '3 months')::timestamp
                         at time zone 'UTC'$$,
  'no attached partition ends before the window'
);
select ok(
  to_regclass('partitions.analytics_events_default') is not null,
  'the default partition is never dropped'
);
select isnt_empty(
  $$select * from private.analytics_events_partitions()
     where partition_name = 'partitions.analytics_events_p2091_07'$$,
  'partitions ahead are untouched by retention'
);

-- Detaching instead of dropping keeps the rows, outside the table.
select results_eq(
  $$select action, partition_name from private.maintain_analytics_events_partitions(0, 1, 'detach')
     order by partition_name$$,
  $$select 'detached', format('partitions.analytics_events_p%s',
                              to_char(current_setting('test.this_month')::date
                                      - make_interval(months => m), 'YYYY_MM'))
      from unnest(array[3, 2]) as m
     order by 2$$,
  'retention of 1 month detaches the partitions 3 and 2 months back'
);
select is(
  (select count(*)::integer from public.analytics_events where event_type = 'retention_probe'),
  1,
  'the detached months no longer count in the table'
);
select is(
  (select sum(tests.row_count(c.oid))::integer
     from pg_catalog.pg_class as c
    where c.relnamespace = 'partitions'::regnamespace and c.relkind = 'r' and not c.relispartition
      and c.relname in (
        format('analytics_events_p%s', to_char(current_setting('test.this_month')::date
                                               - interval '3 months', 'YYYY_MM')),
        format('analytics_events_p%s', to_char(current_setting('test.this_month')::date
                                               - interval '2 months', 'YYYY_MM')))),
  2,
  'the detached partitions remain as tables in schema partitions, with their rows'
);

-- Bad arguments
select throws_ok($$select private.maintain_analytics_events_partitions(-1)$$, '22023',
                 'months_ahead must be between 0 and 120, not -1', 'months_ahead below 0 is refused');
select throws_ok($$select private.maintain_analytics_events_partitions(3, -1)$$, '22023', null,
                 'a negative retention is refused');
select throws_ok($$select private.maintain_analytics_events_partitions(3, 3, 'truncate')$$,
                 '22023', 'expired_action must be detach or drop, not truncate',
                 'an unknown expired_action is refused');
select throws_ok($$select private.create_analytics_events_partition(null)$$, '22004',
                 'month must not be null', 'a partition needs a month');

select * from finish();
rollback;
