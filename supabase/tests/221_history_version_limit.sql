-- A session holds at most private.history_limits.max_versions IR versions: an editor cannot
-- append versions to the owner's session without end. The write past the limit is refused with
-- 54000, whoever writes and however (PATCH, update_session_ir, rollback_session), and nothing is
-- written; an operator raises the limit with one UPDATE.
begin;
select plan(8);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob');
select tests.create_session('alice', 'long history', '{"v": 1}');
select tests.share_session(tests.get_session_id('long history'), 'bob', 'editor');
update private.history_limits set max_versions = 3;

select tests.authenticate_as('bob');
select lives_ok(
  $$select public.update_session_ir(tests.get_session_id('long history'), '{"v": 2}')$$,
  'the editor writes version 2'
);
select lives_ok(
  $$update public.sessions set current_ir = '{"v": 3}' where prompt = 'long history'$$,
  'the editor writes version 3, the last one allowed'
);
select set_config('test.digest', tests.user_data_digest('alice'), true);
select throws_ok(
  $$select public.update_session_ir(tests.get_session_id('long history'), '{"v": 4}')$$,
  '54000', format('session %s has 3 versions, its limit', tests.get_session_id('long history')),
  'the editor cannot write a fourth version'
);
select throws_ok(
  $$update public.sessions set current_ir = '{"v": 4}' where prompt = 'long history'$$,
  '54000', null,
  'nor by PATCH'
);
select tests.authenticate_as('alice');
select throws_ok(
  $$select public.rollback_session(tests.get_session_id('long history'), 1)$$,
  '54000', null,
  'the limit holds for the owner and for rollbacks too'
);
select is(tests.user_data_digest('alice'), current_setting('test.digest'),
          'the refused writes changed nothing');
select lives_ok(
  $$update public.sessions set status = 'finalized' where prompt = 'long history'$$,
  'a session at its limit still takes changes that write no version'
);

select tests.clear_authentication();
update private.history_limits set max_versions = 4;
select tests.authenticate_as('alice');
select lives_ok(
  $$select public.rollback_session(tests.get_session_id('long history'), 1)$$,
  'a raised limit admits the next version'
);

select * from finish();
rollback;
