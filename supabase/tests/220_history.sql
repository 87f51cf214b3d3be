-- IR history as Alice lives it: every IR she writes becomes the next version, recorded by the
-- database in the same statement; a write based on a stale version is refused and leaves no
-- trace; a rollback restores an old IR as a new version and rewrites nothing; nobody, not even
-- the server, can set ir_version or rewrite history.
begin;
select plan(42);

select tests.create_supabase_user('alice');
select tests.authenticate_as('alice');

-- A direct insert with an IR is version 1; the description travels in lift.change_description.
select set_config('lift.change_description', 'first draft', true);
insert into public.sessions (prompt, current_ir) values ('history prompt', '{"step": 1}');
select set_config('lift.change_description', '', true);
select is((select ir_version from public.sessions where prompt = 'history prompt'), 1,
          'a session created with an IR is at version 1');
select results_eq(
  'select version, ir_snapshot, change_description from public.session_history',
  $$values (1, '{"step": 1}'::jsonb, 'first draft')$$,
  'creating it recorded version 1 with its description'
);

-- Optimistic updates naming the version they read.
select results_eq(
  $$select ir_version, current_ir from public.update_session_ir(
      tests.get_session_id('history prompt'), '{"step": 2}', 1, 'add a hole')$$,
  $$values (2, '{"step": 2}'::jsonb)$$,
  'an update naming the current version writes version 2'
);
select results_eq(
  $$select ir_version from public.update_session_ir(
      tests.get_session_id('history prompt'), '{"step": 3}', 2, 'fill the hole')$$,
  array[3],
  'the next one writes version 3'
);
select results_eq(
  $$select ir_version from public.update_session_ir(
      tests.get_session_id('history prompt'), '{"step": 4}', 3, 'refine')$$,
  array[4],
  'and the next version 4'
);
select results_eq(
  'select version, ir_snapshot, change_description from public.session_history order by version',
  $$values (1, '{"step": 1}'::jsonb, 'first draft'), (2, '{"step": 2}'::jsonb, 'add a hole'),
           (3, '{"step": 3}'::jsonb, 'fill the hole'), (4, '{"step": 4}'::jsonb, 'refine')$$,
  'history holds versions 1..4, each with its IR and description'
);

-- A writer that read version 2 comes back late.
select throws_ok(
  $$select public.update_session_ir(tests.get_session_id('history prompt'), '{"step": "late"}', 2,
                                    'based on version 2')$$,
  'PT409',
  format('ir version conflict on session %s: expected version 2, current version is 4',
         tests.get_session_id('history prompt')),
  'a stale expected_version is refused with PT409'
);
select results_eq(
  $$select ir_version, current_ir from public.sessions where prompt = 'history prompt'$$,
  $$values (4, '{"step": 4}'::jsonb)$$,
  'the refused update left the session as it was'
);
select is((select count(*)::integer from public.session_history), 4,
          'the refused update wrote no history');
select throws_ok(
  $$select public.update_session_ir(tests.get_session_id('history prompt'), '{"step": "ahead"}', 5)$$,
  'PT409', null, 'an expected_version from the future is refused too'
);

-- Without expected_version the write is unconditional, still versioned.
select results_eq(
  $$select ir_version from public.update_session_ir(tests.get_session_id('history prompt'),
                                                      '{"step": 5}')$$,
  array[5],
  'an update without expected_version writes version 5'
);
select is(
  (select change_description from public.session_history where version = 5), null,
  'no change_description records none'
);

-- A direct UPDATE of current_ir (what PATCH /sessions does) is versioned just the same.
select set_config('lift.change_description', 'edited in place', true);
select results_eq(
  $$update public.sessions set current_ir = '{"step": 6}' where prompt = 'history prompt'
    returning ir_version$$,
  array[6],
  'a direct update of current_ir writes version 6'
);
select set_config('lift.change_description', '', true);
select is((select change_description from public.session_history where version = 6),
          'edited in place', 'a direct update takes its description from lift.change_description');

select public.update_session_ir(tests.get_session_id('history prompt'), '{"step": 7}', 6,
                                'via the function');
update public.sessions set current_ir = '{"step": 8}' where prompt = 'history prompt';
select is((select change_description from public.session_history where version = 8), null,
          'the function''s description does not leak into a later write');

-- Only IR writes are versions.
select results_eq(
  $$update public.sessions set status = 'finalized', metadata = '{"holes": [], "assists": []}'
     where prompt = 'history prompt' returning ir_version$$,
  array[8],
  'changing status and metadata does not change ir_version'
);
select is((select count(*)::integer from public.session_history), 8,
          'and writes no history');
select results_eq(
  $$select ir_version from public.update_session_ir(tests.get_session_id('history prompt'),
                                                      '{"step": 8}', 8, 'confirmed as is')$$,
  array[9],
  'writing the same IR again is an explicit write: version 9'
);

-- Rollback.
select results_eq(
  $$select ir_version, current_ir from public.rollback_session(
      tests.get_session_id('history prompt'), 2)$$,
  $$values (10, '{"step": 2}'::jsonb)$$,
  'rolling back to version 2 writes version 10 with version 2''s IR'
);
select results_eq(
  'select ir_snapshot, change_description from public.session_history where version = 10',
  $$values ('{"step": 2}'::jsonb, 'rollback to version 2')$$,
  'version 10 records the restored IR and says where it came from'
);
select results_eq(
  'select version, ir_snapshot from public.session_history where version <= 9 order by version',
  $$values (1, '{"step": 1}'::jsonb), (2, '{"step": 2}'::jsonb), (3, '{"step": 3}'::jsonb),
           (4, '{"step": 4}'::jsonb), (5, '{"step": 5}'::jsonb), (6, '{"step": 6}'::jsonb),
           (7, '{"step": 7}'::jsonb), (8, '{"step": 8}'::jsonb), (9, '{"step": 8}'::jsonb)$$,
  'the rollback rewrote none of versions 1..9'
);
select results_eq(
  $$select ir_version from public.rollback_session(tests.get_session_id('history prompt'), 10,
                                                     10, 'back to the rollback itself')$$,
  array[11],
  'rolling back to the current version still records a version'
);
select is((select change_description from public.session_history where version = 11),
          'back to the rollback itself', 'a rollback takes a custom description');
select throws_ok(
  $$select public.rollback_session(tests.get_session_id('history prompt'), 1, 3)$$,
  'PT409',
  format('ir version conflict on session %s: expected version 3, current version is 11',
         tests.get_session_id('history prompt')),
  'a rollback based on a stale version is refused'
);
select is((select ir_version from public.sessions where prompt = 'history prompt'), 11,
          'the refused rollback changed nothing');
select is(
  (select array_agg(version order by version) from public.session_history),
  array[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
  'versions run 1..11 with no gap or duplicate'
);

-- A session created without an IR starts at version 0 and has no history until its first IR.
insert into public.sessions (prompt) values ('empty prompt');
select results_eq(
  $$select ir_version, current_ir from public.sessions where prompt = 'empty prompt'$$,
  $$values (0, null::jsonb)$$,
  'a session without an IR is at version 0'
);
select is_empty(
  $$select * from public.session_history where session_id = tests.get_session_id('empty prompt')$$,
  'and has no history'
);
select results_eq(
  $$update public.sessions set current_ir = null where prompt = 'empty prompt' returning ir_version$$,
  array[0],
  'assigning no IR to a session without one records nothing'
);
select results_eq(
  $$select ir_version from public.update_session_ir(tests.get_session_id('empty prompt'),
                                                      '{"step": 1}', 0)$$,
  array[1],
  'its first IR is version 1, expected_version 0'
);
select throws_ok(
  $$update public.sessions set current_ir = null where prompt = 'empty prompt'$$,
  '22004', 'current_ir cannot be removed once a session has an IR',
  'an IR cannot be removed once written'
);

-- ir_version belongs to the database: API users lack the grant, everyone else meets the trigger.
select throws_ok(
  $$update public.sessions set ir_version = 99 where prompt = 'history prompt'$$,
  '42501', 'permission denied for table sessions', 'Alice cannot set ir_version'
);
select throws_ok(
  $$insert into public.sessions (prompt, ir_version) values ('forged version', 5)$$,
  '42501', 'permission denied for table sessions', 'Alice cannot insert an ir_version'
);
select tests.authenticate_as_service_role();
select throws_ok(
  $$update public.sessions set ir_version = 99 where prompt = 'history prompt'$$,
  '428C9', 'ir_version is maintained by the database',
  'service_role cannot set ir_version'
);
select throws_ok(
  $$update public.sessions set ir_version = 12, current_ir = '{"step": 12}'
     where prompt = 'history prompt'$$,
  '428C9', 'ir_version is maintained by the database',
  'service_role cannot set ir_version alongside an IR write either'
);
select throws_ok(
  $$insert into public.sessions (user_id, prompt, ir_version, current_ir)
    values (tests.get_supabase_uid('alice'), 'server forged version', 7, '{}')$$,
  '428C9', 'ir_version is maintained by the database',
  'service_role cannot insert an ir_version'
);
select tests.clear_authentication();
select throws_ok(
  $$update public.session_history set change_description = 'rewritten'
     where session_id = tests.get_session_id('history prompt')$$,
  '42501', 'session history is append-only',
  'not even the table owner can rewrite history'
);

-- Timestamps belong to the database.
insert into public.sessions (user_id, prompt, created_at)
values (tests.get_supabase_uid('alice'), 'old prompt', '2020-01-01 00:00:00+00');
select is((select updated_at from public.sessions where prompt = 'old prompt'),
          '2020-01-01 00:00:00+00'::timestamptz,
          'a new session''s updated_at is its created_at');
select tests.authenticate_as_service_role();
update public.sessions set status = 'abandoned', updated_at = '1999-01-01 00:00:00+00'
 where prompt = 'old prompt';
select is((select updated_at from public.sessions where prompt = 'old prompt'), now(),
          'any update sets updated_at to now, whatever the caller sends');
select throws_ok(
  $$update public.sessions set created_at = now() where prompt = 'old prompt'$$,
  '428C9', 'created_at is maintained by the database', 'created_at never changes'
);

-- Deleting a session takes its history with it.
select set_config('test.deleted_session', tests.get_session_id('history prompt')::text, true);
select tests.authenticate_as('alice');
select lives_ok(
  $$select public.delete_session(current_setting('test.deleted_session')::uuid)$$,
  'Alice deletes her session with its 11 versions'
);
select tests.clear_authentication();
select is_empty(
  $$select * from public.session_history
     where session_id = current_setting('test.deleted_session')::uuid$$,
  'its history went with it'
);

select * from finish();
rollback;
