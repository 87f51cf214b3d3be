-- Bad input to sharing and comments: each mistake fails with a message that names it, and what
-- was there before is exactly as it was. (Bad input to preferences and the repository cache is
-- in 180_bad_input_repositories_and_preferences.sql, to analytics in 480_bad_input_analytics.sql.)
begin;
select plan(14);

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

select * from finish();
rollback;
