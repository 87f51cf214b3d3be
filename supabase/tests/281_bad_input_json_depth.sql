-- JSON nested deeper than 100 levels, however it arrives (insert, PATCH of current_ir or of
-- metadata, update_session_ir), is refused with SQLSTATE 54000 naming the column (the cap of
-- private.column_limits), and Alice's data is exactly as it was. Deeper documents are valid
-- JSON that clients cannot read back (Python's json gives up near 1,000 levels), so the
-- database keeps them out.
begin;
select plan(9);

select tests.create_supabase_user('alice');
select tests.create_session('alice', 'deep prompt', '{"v": 1}');
select set_config('test.digest', tests.user_data_digest('alice'), true);
select set_config('test.too_deep', '{"a": ' || repeat('[', 101) || repeat(']', 101) || '}', true);
select set_config('test.deepest', '{"a": ' || repeat('[', 100) || repeat(']', 100) || '}', true);
select tests.authenticate_as('alice');

select throws_ok(
  $$insert into public.sessions (prompt, current_ir)
    values ('deep insert', current_setting('test.too_deep')::jsonb)$$,
  '54000', 'public.sessions.current_ir is nested deeper than 100 levels',
  'an IR 101 levels deep is refused on insert'
);
select throws_ok(
  $$update public.sessions set current_ir = current_setting('test.too_deep')::jsonb
     where prompt = 'deep prompt'$$,
  '54000', 'public.sessions.current_ir is nested deeper than 100 levels',
  'an IR 101 levels deep is refused on update'
);
select throws_ok(
  $$select public.update_session_ir(tests.get_session_id('deep prompt'),
                                    current_setting('test.too_deep')::jsonb)$$,
  '54000', 'public.sessions.current_ir is nested deeper than 100 levels',
  'an IR 101 levels deep is refused by update_session_ir'
);
select throws_ok(
  $$update public.sessions
       set metadata = jsonb_build_object('holes', current_setting('test.too_deep')::jsonb)
     where prompt = 'deep prompt'$$,
  '54000', 'public.sessions.metadata is nested deeper than 100 levels',
  'metadata 101 levels deep is refused'
);
select throws_ok(
  $$select public.update_session_ir(tests.get_session_id('deep prompt'),
             ('{"a": ' || repeat('[', 5000) || repeat(']', 5000) || '}')::jsonb)$$,
  '54000', 'public.sessions.current_ir is nested deeper than 100 levels',
  'an IR 5,000 levels deep is refused'
);
select is(tests.user_data_digest('alice'), current_setting('test.digest'),
          'the refused writes changed nothing');

-- The limit itself is allowed.
select lives_ok(
  $$select public.update_session_ir(tests.get_session_id('deep prompt'),
                                    current_setting('test.deepest')::jsonb)$$,
  'an IR 100 levels deep is accepted'
);
select lives_ok(
  $$update public.sessions set metadata = current_setting('test.deepest')::jsonb
     where prompt = 'deep prompt'$$,
  'metadata 100 levels deep is accepted'
);
select is(
  (select ir_snapshot from public.session_history
    where session_id = tests.get_session_id('deep prompt') and version = 2),
  current_setting('test.deepest')::jsonb,
  'the history keeps the deepest allowed IR as written'
);

select * from finish();
rollback;
