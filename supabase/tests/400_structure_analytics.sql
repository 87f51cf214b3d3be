-- public.analytics_events, its partitions, maintenance functions and views: partitioning,
-- keys, grants, policies, and where the partitions live.
begin;
select plan(28);

select has_table('public', 'analytics_events', 'public.analytics_events exists');
select is(
  (select c.relkind::text from pg_catalog.pg_class as c
    where c.oid = 'public.analytics_events'::regclass),
  'p', 'analytics_events is partitioned'
);
select is(
  pg_catalog.pg_get_partkeydef('public.analytics_events'::regclass),
  'RANGE (created_at)', 'partitioned by range on created_at'
);
select columns_are('public', 'analytics_events',
                   array['id', 'session_id', 'user_id', 'event_type', 'event_data', 'latency_ms',
                         'created_at'],
                   'public.analytics_events has exactly the event columns');
select col_is_pk('public', 'analytics_events', array['id', 'created_at'],
                 'the key includes the partition key');
select fk_ok('public', 'analytics_events', 'session_id', 'public', 'sessions', 'id',
             'an event may name a session');
select fk_ok('public', 'analytics_events', 'user_id', 'public', 'users', 'id',
             'an event belongs to a user');
select bag_eq(
  $$select c.confdeltype::text from pg_catalog.pg_constraint as c
     where c.conrelid = 'public.analytics_events'::regclass and c.contype = 'f'$$,
  array['n', 'c'],
  'an event outlives its session (set null) but not its user (cascade)'
);
select bag_eq(
  $$select c.conname::text from pg_catalog.pg_constraint as c
     where c.conrelid = 'public.analytics_events'::regclass and c.contype = 'c'$$,
  array['analytics_events_event_type_format', 'analytics_events_event_data_object',
        'analytics_events_prompt_type_text', 'analytics_events_latency_ms_not_negative'],
  'events check type, data, prompt type and latency (size and depth: private.column_limits)'
);
select indexes_are('public', 'analytics_events',
                   array['analytics_events_pkey', 'analytics_events_user_id_created_at_idx',
                         'analytics_events_session_id_idx',
                         'analytics_events_event_type_created_at_idx'],
                   'events are indexed by user and time, session, and type and time');

select is(
  (select format('%I.%I', n.nspname, c.relname) from pg_catalog.pg_class as c
     inner join pg_catalog.pg_namespace as n on c.relnamespace = n.oid
    where c.relispartition and pg_catalog.pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'
      and c.oid in (select i.inhrelid from pg_catalog.pg_inherits as i
                     where i.inhparent = 'public.analytics_events'::regclass)),
  'partitions.analytics_events_default',
  'a default partition takes rows of months without a partition'
);
select is_empty(
  $$select c.relname from pg_catalog.pg_inherits as i
      join pg_catalog.pg_class as c on c.oid = i.inhrelid
     where i.inhparent = 'public.analytics_events'::regclass
       and c.relnamespace <> 'partitions'::regnamespace$$,
  'every partition lives in schema partitions'
);
select is_empty(
  $$select c.relname from pg_catalog.pg_inherits as i
      join pg_catalog.pg_class as c on c.oid = i.inhrelid
     where i.inhparent = 'public.analytics_events'::regclass and not c.relrowsecurity$$,
  'every partition has RLS enabled'
);
select ok(
  not has_schema_privilege('anon', 'partitions', 'usage')
  and not has_schema_privilege('authenticated', 'partitions', 'usage')
  and not has_schema_privilege('service_role', 'partitions', 'usage'),
  'no API role may use schema partitions'
);
select has_function('private', 'maintain_analytics_events_partitions',
                    array['integer', 'integer', 'text'], 'partitions are maintained by a function');

select policies_are('public', 'analytics_events',
                    array['analytics_events_select_own', 'analytics_events_insert_own'],
                    'events are read and recorded; no policy updates or deletes them');
select table_privs_are('public', 'analytics_events', 'anon', array[]::text[],
                       'anon has no privilege on events');
select table_privs_are('public', 'analytics_events', 'authenticated', array['SELECT'],
                       'authenticated reads events and records them by column');
select column_privs_are('public', 'analytics_events', 'created_at', 'authenticated', array['SELECT'],
                        'the database stamps created_at');
select table_privs_are('public', 'analytics_events', 'service_role',
                       array['SELECT', 'INSERT', 'DELETE'], 'service_role never rewrites an event');
select trigger_is('public', 'analytics_events', 'analytics_events_check_session', 'private',
                  'check_event_session', 'an event''s session is checked as the caller sees it');
select isnt_definer('private', 'check_event_session', array[]::name[],
                    'the session check runs as the caller');

select function_privs_are('private', 'maintain_analytics_events_partitions',
                          array['integer', 'integer', 'text'], 'service_role', array[]::text[],
                          'partition maintenance is for the table owner only');
select isnt_definer('private', 'create_analytics_events_partition', array['date'],
                    'creating a partition runs with the caller''s rights');

select bag_eq(
  $$select c.relname::text from pg_catalog.pg_class as c
     where c.relnamespace = 'public'::regnamespace and c.relkind = 'v'
       and c.relname like 'analytics%'$$,
  array['analytics_success_rates', 'analytics_latency_by_event_type',
        'analytics_latency_by_prompt_type'],
  'three analytics views'
);
select is_empty(
  $$select c.relname from pg_catalog.pg_class as c
     where c.relnamespace = 'public'::regnamespace and c.relkind = 'v'
       and c.relname like 'analytics%'
       and not ('security_invoker=true' = any (coalesce(c.reloptions, '{}')))$$,
  'every analytics view is security_invoker'
);
select table_privs_are('public', 'analytics_success_rates', 'authenticated', array['SELECT'],
                       'authenticated reads the success rates');
select table_privs_are('public', 'analytics_latency_by_prompt_type', 'anon', array[]::text[],
                       'anon reads no analytics view');

select * from finish();
rollback;
