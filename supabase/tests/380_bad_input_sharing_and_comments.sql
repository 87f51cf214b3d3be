-- Bad input to sharing, comments, analytics, preferences and the repository cache: each mistake
-- fails with a message that names it, and what was there before is exactly as it was.
begin;
select plan(37);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob');
select tests.create_supabase_user('mallory');
select tests.create_session('alice', 'careful prompt', '{"v": 1}');
select tests.create_session('bob', 'bob prompt');
select tests.share_session(tests.get_session_id('careful prompt'), 'bob', 'viewer');
select set_config('test.digest', tests.collaboration_digest(tests.get_session_id('careful prompt')),
                  true);
select tests.authenticate_as('alice');

-- Shares
select throws_ok(
  $$insert into public.session_shares (session_id, user_id, role)
    values (tests.get_session_id('careful prompt'), tests.get_supabase_uid('mallory'), 'admin')$$,
  '23514', 'new row for relation "session_shares" violates check constraint "session_shares_role_valid"',
  'an unknown share role is refused'
);
select throws_ok(
  $$update public.session_shares set role = 'owner' where user_id = tests.get_supabase_uid('bob')$$,
  '23514', 'new row for relation "session_shares" violates check constraint "session_shares_role_valid"',
  'a share cannot be given an unknown role'
);
select throws_ok(
  $$insert into public.session_shares (session_id, user_id, role)
    values (tests.get_session_id('careful prompt'), tests.get_supabase_uid('mallory'), null)$$,
  '23502', null, 'a share needs a role'
);
select throws_ok(
  $$insert into public.session_shares (session_id, user_id, role)
    values (tests.get_session_id('careful prompt'), tests.get_supabase_uid('alice'), 'editor')$$,
  '22023', 'a session cannot be shared with its owner', 'sharing with oneself is refused'
);
select throws_ok(
  $$insert into public.session_shares (session_id, user_id, role)
    values (tests.get_session_id('careful prompt'), '00000000-0000-4000-8000-000000000000', 'viewer')$$,
  '23503', 'user 00000000-0000-4000-8000-000000000000 does not exist',
  'sharing with a user who does not exist is refused'
);
select throws_ok(
  $$insert into public.session_shares (session_id, user_id, role)
    values (tests.get_session_id('careful prompt'), 'not-a-uuid', 'viewer')$$,
  '22P02', null, 'a malformed user id is refused'
);
select throws_ok(
  $$insert into public.session_shares (session_id, user_id, role)
    values ('00000000-0000-4000-8000-000000000000', tests.get_supabase_uid('mallory'), 'viewer')$$,
  '42501', 'new row violates row-level security policy for table "session_shares"',
  'sharing a session that does not exist is refused like sharing someone else''s'
);
select is(tests.collaboration_digest(tests.get_session_id('careful prompt')),
          current_setting('test.digest'), 'bad shares wrote nothing');

-- service_role is held to the same rules.
select tests.authenticate_as_service_role();
select throws_ok(
  $$insert into public.session_shares (session_id, user_id, role)
    values (tests.get_session_id('careful prompt'), tests.get_supabase_uid('alice'), 'viewer')$$,
  '22023', 'a session cannot be shared with its owner',
  'not even service_role shares a session with its owner'
);
select throws_ok(
  $$insert into public.session_shares (session_id, user_id, role)
    values (tests.get_session_id('careful prompt'), '00000000-0000-4000-8000-000000000000', 'viewer')$$,
  '23503', 'user 00000000-0000-4000-8000-000000000000 does not exist',
  'not even service_role shares with a user who does not exist'
);
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

-- Comments
select throws_ok(
  $$insert into public.comments (session_id, body) values (tests.get_session_id('careful prompt'), E' \n ')$$,
  '23514', 'new row for relation "comments" violates check constraint "comments_body_not_blank"',
  'a blank comment is refused'
);
select throws_ok(
  $$insert into public.comments (session_id, body)
    values (tests.get_session_id('careful prompt'), repeat('x', 10001))$$,
  '23514', 'new row for relation "comments" violates check constraint "comments_body_length"',
  'a comment over 10,000 characters is refused'
);
select throws_ok(
  $$insert into public.comments (session_id, version, body)
    values (tests.get_session_id('careful prompt'), 7, 'on a version that does not exist')$$,
  '23503', null, 'a comment on a version the session does not have is refused'
);
select is(tests.collaboration_digest(tests.get_session_id('careful prompt')),
          current_setting('test.digest'), 'bad comments wrote nothing');

-- Preferences
select throws_ok(
  $$insert into public.user_preferences (settings) values ('["dark"]')$$,
  '23514',
  'new row for relation "user_preferences" violates check constraint "user_preferences_settings_object"',
  'preferences that are an array are refused'
);
select throws_ok(
  $$insert into public.user_preferences (settings) values ('"dark"')$$,
  '23514',
  'new row for relation "user_preferences" violates check constraint "user_preferences_settings_object"',
  'preferences that are a string are refused'
);
select throws_ok(
  $$insert into public.user_preferences (settings) values (jsonb_build_object('x', repeat('x', 70000)))$$,
  '54000', 'public.user_preferences.settings is 70009 bytes, over its limit of 65536 bytes',
  'preferences over 64 KiB are refused'
);
select lives_ok($$insert into public.user_preferences (settings) values ('{"theme": "dark"}')$$,
                'good preferences are stored');
select throws_ok(
  $$update public.user_preferences set settings = '[]'$$,
  '23514', null, 'preferences cannot be replaced by a non-object'
);
select results_eq('select settings from public.user_preferences',
                  $$values ('{"theme": "dark"}'::jsonb)$$, 'bad preferences changed nothing');

-- Repository cache
select throws_ok(
  $$insert into public.repositories (owner, name) values ('alice-co', 'a/b')$$,
  '23514', 'new row for relation "repositories" violates check constraint "repositories_name_format"',
  'a repository name with a slash is refused'
);
select throws_ok(
  $$insert into public.repositories (owner, name) values ('', 'tool')$$,
  '23514', 'new row for relation "repositories" violates check constraint "repositories_owner_format"',
  'an empty owner is refused'
);
select throws_ok(
  $$insert into public.repositories (owner, name, metadata) values ('alice-co', 'tool', '[]')$$,
  '23514', 'new row for relation "repositories" violates check constraint "repositories_metadata_object"',
  'repository metadata that is not an object is refused'
);
select is_empty('select * from public.repositories', 'bad repositories wrote nothing');

select * from finish();
rollback;
