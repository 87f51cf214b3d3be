-- Bad input to analytics events: each mistake fails with a message that names it, and what was
-- there before is exactly as it was. Alice owns a session shared with Bob; Bob owns one she
-- cannot see.
begin;
select plan(13);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob');
select tests.create_session('alice', 'careful prompt', '{"v": 1}');
select tests.create_session('bob', 'bob prompt');
select tests.share_session(tests.get_session_id('careful prompt'), 'bob', 'viewer');
select set_config('test.digest', tests.collaboration_digest(tests.get_session_id('careful prompt')),
                  true);
select tests.authenticate_as('alice');

-- Analytics events
select throws_ok(
  $$insert into public.analytics_events (session_id, event_type, latency_ms)
    values (tests.get_session_id('careful prompt'), 'ir_generated', -1)$$,
  '23514', null, 'a negative latency is refused'
);
-- The message names the partition the row was routed to, and the constraint.
select throws_like(
  $$insert into public.analytics_events (session_id, event_type, latency_ms)
    values (tests.get_session_id('careful prompt'), 'ir_generated', -1)$$,
  '%violates check constraint "analytics_events_latency_ms_not_negative"',
  'the error names the latency constraint'
);
select throws_ok(
  $$insert into public.analytics_events (event_type, event_data) values ('ir_generated', '[1, 2]')$$,
  '23514', null, 'event data that is an array is refused'
);
select throws_ok(
  $$insert into public.analytics_events (event_type, event_data) values ('ir_generated', '"text"')$$,
  '23514', null, 'event data that is a string is refused'
);
select throws_ok(
  $$insert into public.analytics_events (event_type, event_data) values ('ir_generated', 'null')$$,
  '23514', null, 'event data that is JSON null is refused'
);
select throws_ok(
  $$insert into public.analytics_events (event_type, event_data) values ('ir_generated', null)$$,
  '23502', null, 'missing event data is refused'
);
select throws_ok(
  $$insert into public.analytics_events (event_type, event_data)
    values ('ir_generated', '{"prompt_type": 7}')$$,
  '23514', null, 'a prompt_type that is not a string is refused'
);
select throws_ok(
  $$insert into public.analytics_events (event_type) values ('Drop Table')$$,
  '23514', null, 'an event type outside [a-z0-9_.:-] is refused'
);
select throws_ok(
  $$insert into public.analytics_events (event_type, event_data)
    values ('ir_generated', jsonb_build_object('blob', repeat('x', 70000)))$$,
  '54000', 'public.analytics_events.event_data is 70012 bytes, over its limit of 65536 bytes',
  'event data over 64 KiB is refused'
);
select throws_ok(
  $$insert into public.analytics_events (session_id, event_type)
    values (tests.get_session_id('bob prompt'), 'ir_generated')$$,
  'PT404', format('session %s not found', tests.get_session_id('bob prompt')),
  'an event for a session the caller cannot see is refused'
);
select throws_ok(
  $$insert into public.analytics_events (session_id, event_type)
    values ('00000000-0000-4000-8000-000000000000', 'ir_generated')$$,
  'PT404', 'session 00000000-0000-4000-8000-000000000000 not found',
  'an event for a session that does not exist is refused the same way'
);
select is(tests.collaboration_digest(tests.get_session_id('careful prompt')),
          current_setting('test.digest'), 'bad events wrote nothing');
select is_empty('select * from public.analytics_events', 'no event was recorded at all');

select * from finish();
rollback;
