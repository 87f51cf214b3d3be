-- Who may do what to public.analytics_events and its views. Alice owns a session shared with Erin
-- (editor) and Victor (viewer); Mallory is a stranger. Each records events as themselves, for no
-- session or for a session they can read, and reads only their own events and statistics: a
-- share opens the session, not the owner's events. Nobody updates an event; only service_role
-- deletes them and reads everyone's. anon is refused everything.
begin;
select plan(38);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('erin');
select tests.create_supabase_user('victor');
select tests.create_supabase_user('mallory');
select tests.create_session('alice', 'measured prompt');
select tests.share_session(tests.get_session_id('measured prompt'), 'erin', 'editor');
select tests.share_session(tests.get_session_id('measured prompt'), 'victor', 'viewer');
-- What the daily maintenance does: this month has its partition.
select * from private.maintain_analytics_events_partitions(0);

-- Alice, the owner
select tests.authenticate_as('alice');
select results_eq(
  $$insert into public.analytics_events (session_id, event_type, event_data, latency_ms)
    values (tests.get_session_id('measured prompt'), 'ir_generated',
            '{"prompt_type": "function"}', 100)
    returning user_id, tableoid::regclass::text <> 'partitions.analytics_events_default'$$,
  $$values (tests.get_supabase_uid('alice'), true)$$,
  'the owner records an event on her session, as herself, in this month''s partition'
);
select lives_ok(
  $$insert into public.analytics_events (session_id, event_type, event_data, latency_ms) values
      (tests.get_session_id('measured prompt'), 'ir_generated', '{"prompt_type": "function"}', 300),
      (tests.get_session_id('measured prompt'), 'ir_generated', '{"prompt_type": "class"}', 200),
      (tests.get_session_id('measured prompt'), 'session_finalized', '{"prompt_type": "function"}',
       null),
      (null, 'session_abandoned', '{"prompt_type": "function"}', null),
      (null, 'session_finalized', '{"prompt_type": "function"}', null),
      (null, 'session_finalized', '{}', null)$$,
  'the owner records events with and without a session'
);
select throws_ok(
  $$insert into public.analytics_events (user_id, event_type)
    values (tests.get_supabase_uid('victor'), 'forged')$$,
  '42501', 'new row violates row-level security policy for table "analytics_events"',
  'the owner cannot record an event in another user''s name'
);
select throws_ok(
  $$insert into public.analytics_events (event_type, created_at)
    values ('backdated', '2000-01-01')$$,
  '42501', 'permission denied for table analytics_events',
  'a user cannot choose created_at: the database stamps it'
);
select throws_ok(
  $$update public.analytics_events set latency_ms = 0$$,
  '42501', 'permission denied for table analytics_events', 'the owner cannot rewrite her events'
);
select throws_ok(
  'delete from public.analytics_events', '42501', 'permission denied for table analytics_events',
  'the owner cannot delete her events'
);
select results_eq('select count(*)::integer from public.analytics_events', array[7],
                  'the owner reads her own events');

-- The views, as Alice: her statistics only.
select results_eq(
  $$select prompt_type, finalized, abandoned, success_rate from public.analytics_success_rates
     order by prompt_type$$,
  $$values ('function', 2::bigint, 1::bigint, 0.6667::numeric),
           ('unspecified', 1::bigint, 0::bigint, 1.0000::numeric)$$,
  'success rate: finalized / (finalized + abandoned), by prompt type'
);
select results_eq(
  $$select event_type, events, p50_ms, p90_ms, max_ms from public.analytics_latency_by_event_type$$,
  $$values ('ir_generated', 3::bigint, 200::double precision, 280::double precision, 300)$$,
  'latency percentiles by event type, over the events that carry a latency'
);
select results_eq(
  $$select prompt_type, events, p50_ms, p99_ms from public.analytics_latency_by_prompt_type
     order by prompt_type$$,
  $$values ('class', 1::bigint, 200::double precision, 200::double precision),
           ('function', 2::bigint, 200::double precision, 298::double precision)$$,
  'latency percentiles by prompt type'
);

-- Erin, editor, and Victor, viewer: they record on the shared session, and see their own only.
select tests.authenticate_as('erin');
select lives_ok(
  $$insert into public.analytics_events (session_id, event_type, latency_ms)
    values (tests.get_session_id('measured prompt'), 'ir_edited', 50)$$,
  'the editor records an event on the shared session'
);
select results_eq('select event_type from public.analytics_events', array['ir_edited'],
                  'the editor reads her own events, not the owner''s on the same session');
select is_empty('select * from public.analytics_success_rates',
                'the editor sees no success rate of the owner''s');
select results_eq('select user_id from public.analytics_latency_by_event_type',
                  $$select tests.get_supabase_uid('erin')$$,
                  'the editor''s latency statistics are hers alone');
select tests.authenticate_as('victor');
select lives_ok(
  $$insert into public.analytics_events (session_id, event_type)
    values (tests.get_session_id('measured prompt'), 'session_viewed')$$,
  'the viewer records an event on the shared session he reads'
);
select results_eq('select event_type from public.analytics_events', array['session_viewed'],
                  'the viewer reads his own events only');
select throws_ok(
  $$update public.analytics_events set event_type = 'changed'$$,
  '42501', 'permission denied for table analytics_events', 'the viewer cannot rewrite events'
);

-- Mallory, a stranger
select tests.authenticate_as('mallory');
select is_empty('select * from public.analytics_events', 'the stranger reads no event');
select is_empty('select * from public.analytics_success_rates', 'the stranger sees no success rate');
select is_empty('select * from public.analytics_latency_by_event_type',
                'the stranger sees no latency by event type');
select is_empty('select * from public.analytics_latency_by_prompt_type',
                'the stranger sees no latency by prompt type');
select throws_ok(
  $$insert into public.analytics_events (session_id, event_type)
    values (tests.get_session_id('measured prompt'), 'snooping')$$,
  'PT404', format('session %s not found', tests.get_session_id('measured prompt')),
  'the stranger cannot record an event on a session she cannot read'
);
select lives_ok(
  $$insert into public.analytics_events (event_type) values ('signed_in')$$,
  'the stranger records an event of her own'
);
select throws_ok(
  'delete from public.analytics_events', '42501', 'permission denied for table analytics_events',
  'the stranger cannot delete events'
);

-- After unsharing, the viewer can no longer record on the session.
select tests.clear_authentication();
delete from public.session_shares where user_id = tests.get_supabase_uid('victor');
select tests.authenticate_as('victor');
select throws_ok(
  $$insert into public.analytics_events (session_id, event_type)
    values (tests.get_session_id('measured prompt'), 'session_viewed')$$,
  'PT404', null,
  'after unsharing, the former viewer cannot record an event on the session'
);
select results_eq('select event_type from public.analytics_events', array['session_viewed'],
                  'his earlier event stays his');

-- anon
select tests.authenticate_as_anon();
select throws_ok('select * from public.analytics_events', '42501',
                 'permission denied for table analytics_events', 'anon cannot read events');
select throws_ok(
  $$insert into public.analytics_events (user_id, event_type)
    values (tests.get_supabase_uid('alice'), 'anon')$$,
  '42501', 'permission denied for table analytics_events', 'anon cannot record events'
);
select throws_ok($$update public.analytics_events set latency_ms = 1$$, '42501',
                 'permission denied for table analytics_events', 'anon cannot update events');
select throws_ok('delete from public.analytics_events', '42501',
                 'permission denied for table analytics_events', 'anon cannot delete events');
select throws_ok('select * from public.analytics_success_rates', '42501',
                 'permission denied for view analytics_success_rates',
                 'anon cannot read the success rates');

-- service_role
select tests.authenticate_as_service_role();
select results_eq(
  $$select count(distinct user_id)::integer from public.analytics_events
     where user_id in (tests.get_supabase_uid('alice'), tests.get_supabase_uid('erin'),
                       tests.get_supabase_uid('victor'), tests.get_supabase_uid('mallory'))$$,
  array[4], 'service_role reads every user''s events'
);
select results_eq(
  $$select count(*)::integer from public.analytics_success_rates
     where user_id = tests.get_supabase_uid('alice')$$,
  array[2], 'service_role reads every user''s statistics'
);
select lives_ok(
  $$insert into public.analytics_events (user_id, session_id, event_type, created_at)
    values (tests.get_supabase_uid('erin'), tests.get_session_id('measured prompt'),
            'server_side', now() - interval '1 hour')$$,
  'service_role records an event for any user, at any time'
);
select throws_ok(
  $$update public.analytics_events set latency_ms = 1$$, '42501',
  'permission denied for table analytics_events', 'not even service_role rewrites events'
);
select results_eq(
  $$delete from public.analytics_events where user_id = tests.get_supabase_uid('mallory')
    returning event_type$$,
  $$values ('signed_in')$$,
  'service_role deletes events (erasure, retention)'
);

-- An event outlives its session: deleting the session keeps the statistics.
select tests.authenticate_as('alice');
select lives_ok($$select public.delete_session(tests.get_session_id('measured prompt'))$$,
                'the owner deletes the measured session');
select results_eq(
  $$select count(*)::integer, count(session_id)::integer from public.analytics_events$$,
  $$values (7, 0)$$,
  'her events remain, no longer pointing at the session'
);

select * from finish();
rollback;
