-- Bad input from a signed-in user: each mistake fails with a message that names it, and Alice's
-- data (every session and every history row) is exactly as it was before the attempt.
begin;
select plan(38);

select tests.create_supabase_user('alice');
select tests.create_session('alice', 'steady prompt', '{"v": 1}');
select public.update_session_ir(tests.get_session_id('steady prompt'), '{"v": 2}', 1, 'second');
select set_config('test.digest', tests.user_data_digest('alice'), true);
select tests.authenticate_as('alice');

-- Status outside active/finalized/abandoned.
select throws_ok(
  $$update public.sessions set status = 'paused' where prompt = 'steady prompt'$$,
  '23514', 'new row for relation "sessions" violates check constraint "sessions_status_valid"',
  'an unknown status is refused on update'
);
select throws_ok(
  $$insert into public.sessions (prompt, status) values ('new prompt', 'done')$$,
  '23514', 'new row for relation "sessions" violates check constraint "sessions_status_valid"',
  'an unknown status is refused on insert'
);
select is(tests.user_data_digest('alice'), current_setting('test.digest'),
          'a bad status changed nothing');

-- Empty, blank, missing and oversized prompts.
select throws_ok(
  $$insert into public.sessions (prompt) values ('')$$,
  '23514', 'new row for relation "sessions" violates check constraint "sessions_prompt_not_blank"',
  'an empty prompt is refused'
);
select throws_ok(
  $$insert into public.sessions (prompt) values (E' \t\n ')$$,
  '23514', 'new row for relation "sessions" violates check constraint "sessions_prompt_not_blank"',
  'a blank prompt is refused'
);
select throws_ok(
  $$update public.sessions set prompt = '' where prompt = 'steady prompt'$$,
  '23514', 'new row for relation "sessions" violates check constraint "sessions_prompt_not_blank"',
  'a prompt cannot be emptied'
);
select throws_ok(
  $$insert into public.sessions (prompt) values (null)$$,
  '23502', 'null value in column "prompt" of relation "sessions" violates not-null constraint',
  'a missing prompt is refused'
);
select throws_ok(
  $$insert into public.sessions (prompt) values (repeat('x', 20001))$$,
  '23514', 'new row for relation "sessions" violates check constraint "sessions_prompt_length"',
  'a prompt over 20,000 characters is refused'
);
select is(tests.user_data_digest('alice'), current_setting('test.digest'),
          'bad prompts changed nothing');

-- IRs that are not JSON objects.
select throws_ok(
  $$insert into public.sessions (prompt, current_ir) values ('array ir', '[1, 2]')$$,
  '23514', 'new row for relation "sessions" violates check constraint "sessions_current_ir_object"',
  'an array IR is refused on insert'
);
select throws_ok(
  $$update public.sessions set current_ir = '"just text"' where prompt = 'steady prompt'$$,
  '23514', 'new row for relation "sessions" violates check constraint "sessions_current_ir_object"',
  'a string IR is refused on a direct update'
);
select throws_ok(
  $$select public.update_session_ir(tests.get_session_id('steady prompt'), '[1, 2]', 2)$$,
  '22023', 'ir must be a JSON object, not array', 'update_session_ir refuses an array IR'
);
select throws_ok(
  $$select public.update_session_ir(tests.get_session_id('steady prompt'), 'null'::jsonb, 2)$$,
  '22023', 'ir must be a JSON object, not null', 'update_session_ir refuses a JSON null IR'
);
select throws_ok(
  $$select public.update_session_ir(tests.get_session_id('steady prompt'), null, 2)$$,
  '22004', 'ir must not be null', 'update_session_ir refuses a missing IR'
);
select throws_ok(
  $$update public.sessions set current_ir = null where prompt = 'steady prompt'$$,
  '22004', 'current_ir cannot be removed once a session has an IR', 'an IR cannot be removed'
);
select is(tests.user_data_digest('alice'), current_setting('test.digest'),
          'bad IRs changed nothing');

-- Metadata that is not a JSON object.
select throws_ok(
  $$update public.sessions set metadata = '["hole"]' where prompt = 'steady prompt'$$,
  '23514', 'new row for relation "sessions" violates check constraint "sessions_metadata_object"',
  'array metadata is refused'
);
select throws_ok(
  $$update public.sessions set metadata = null where prompt = 'steady prompt'$$,
  '23502', 'null value in column "metadata" of relation "sessions" violates not-null constraint',
  'missing metadata is refused'
);

-- Sessions that do not exist.
select throws_ok(
  $$select public.update_session_ir('00000000-0000-4000-8000-000000000000', '{"v": 3}')$$,
  'PT404', 'session 00000000-0000-4000-8000-000000000000 not found',
  'update_session_ir names the unknown session'
);
select throws_ok(
  $$select public.rollback_session('00000000-0000-4000-8000-000000000000', 1)$$,
  'PT404', 'session 00000000-0000-4000-8000-000000000000 not found',
  'rollback_session names the unknown session'
);
select throws_ok(
  $$select public.update_session_ir(null, '{"v": 3}')$$,
  '22004', 'session_id must not be null', 'update_session_ir needs a session id'
);
select throws_ok(
  $$select public.rollback_session(null, 1)$$,
  '22004', 'session_id must not be null', 'rollback_session needs a session id'
);
select is_empty(
  $$update public.sessions set status = 'finalized'
     where id = '00000000-0000-4000-8000-000000000000' returning id$$,
  'a direct update of an unknown session affects 0 rows'
);

-- Versions that do not exist.
select throws_ok(
  $$select public.rollback_session(tests.get_session_id('steady prompt'), 99)$$,
  'PT404', format('session %s has no version 99', tests.get_session_id('steady prompt')),
  'rollback_session names the missing version'
);
select throws_ok(
  $$select public.rollback_session(tests.get_session_id('steady prompt'), 0)$$,
  'PT404', format('session %s has no version 0', tests.get_session_id('steady prompt')),
  'there is no version 0 to roll back to'
);
select throws_ok(
  $$select public.rollback_session(tests.get_session_id('steady prompt'), -1)$$,
  'PT404', format('session %s has no version -1', tests.get_session_id('steady prompt')),
  'there is no negative version'
);
select throws_ok(
  $$select public.rollback_session(tests.get_session_id('steady prompt'), null)$$,
  '22004', 'to_version must not be null', 'rollback_session needs a version'
);
select throws_ok(
  $$select public.update_session_ir(tests.get_session_id('steady prompt'), '{"v": 3}', -1)$$,
  '22023', 'expected_version must be 0 or more, not -1', 'a negative expected_version is refused'
);

-- Descriptions over 1,000 characters, through the function and through the setting.
select throws_ok(
  $$select public.update_session_ir(tests.get_session_id('steady prompt'), '{"v": 3}', 2,
                                    repeat('d', 1001))$$,
  '22023', 'change_description is longer than 1000 characters',
  'update_session_ir refuses an oversized description'
);
select set_config('lift.change_description', repeat('d', 1001), true);
select throws_ok(
  $$update public.sessions set current_ir = '{"v": 3}' where prompt = 'steady prompt'$$,
  '23514',
  'new row for relation "session_history" violates check constraint "session_history_change_description_length"',
  'an oversized description fails the IR write it belongs to'
);
select set_config('lift.change_description', '', true);

-- Columns that are not the caller's to write.
select throws_ok(
  $$update public.sessions set created_at = now() where prompt = 'steady prompt'$$,
  '42501', 'permission denied for table sessions', 'created_at is not writable'
);
select throws_ok(
  $$update public.sessions set updated_at = now() where prompt = 'steady prompt'$$,
  '42501', 'permission denied for table sessions', 'updated_at is not writable'
);
select throws_ok(
  $$update public.sessions set id = gen_random_uuid() where prompt = 'steady prompt'$$,
  '42501', 'permission denied for table sessions', 'a session id is not writable'
);
select is(tests.user_data_digest('alice'), current_setting('test.digest'),
          'after every refused statement Alice''s data is exactly as before');

-- The edges that are allowed, so the refusals above are about the input and nothing else.
select lives_ok(
  $$insert into public.sessions (prompt, status, current_ir, metadata)
    values (repeat('x', 20000), 'finalized', '{}', '{"holes": [], "assists": []}')$$,
  'a 20,000-character prompt, an empty IR object and object metadata are accepted'
);
select lives_ok(
  $$select public.update_session_ir(tests.get_session_id('steady prompt'), '{"v": 3}', 2,
                                    repeat('d', 1000))$$,
  'a 1,000-character description is accepted'
);
select lives_ok(
  $$select public.rollback_session(tests.get_session_id('steady prompt'), 1)$$,
  'rolling back to version 1 works'
);
select isnt(tests.user_data_digest('alice'), current_setting('test.digest'),
            'the digest does see a change when there is one');

select * from finish();
rollback;
