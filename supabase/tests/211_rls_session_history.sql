-- Who may do what to public.session_history. Alice's session has two IR versions, Bob's one.
-- anon gets nothing; Alice reads her own history and cannot write it; Bob sees none of Alice's
-- history and cannot write any; service_role reads every history and cannot write it either:
-- only the database records versions.
begin;
select plan(19);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob');
select tests.create_session('alice', 'alice history prompt', '{"spec": "a1"}');
select public.update_session_ir(tests.get_session_id('alice history prompt'), '{"spec": "a2"}',
                                1, 'second draft');
select tests.create_session('bob', 'bob history prompt', '{"spec": "b1"}');

-- anon
select tests.authenticate_as_anon();
select throws_ok('select * from public.session_history', '42501',
                 'permission denied for table session_history', 'anon cannot read history');
select throws_ok(
  $$insert into public.session_history (session_id, version, ir_snapshot)
    values (tests.get_session_id('alice history prompt'), 3, '{}')$$,
  '42501', 'permission denied for table session_history', 'anon cannot insert history'
);
select throws_ok($$update public.session_history set change_description = 'anon'$$, '42501',
                 'permission denied for table session_history', 'anon cannot update history');
select throws_ok('delete from public.session_history', '42501',
                 'permission denied for table session_history', 'anon cannot delete history');

-- Alice, the owner
select tests.authenticate_as('alice');
select results_eq(
  'select session_id, version, ir_snapshot, change_description from public.session_history order by version',
  $$values (tests.get_session_id('alice history prompt'), 1, '{"spec": "a1"}'::jsonb, null::text),
           (tests.get_session_id('alice history prompt'), 2, '{"spec": "a2"}'::jsonb,
            'second draft')$$,
  'Alice reads exactly her own history'
);
select throws_ok(
  $$insert into public.session_history (session_id, version, ir_snapshot)
    values (tests.get_session_id('alice history prompt'), 3, '{"spec": "forged"}')$$,
  '42501', 'permission denied for table session_history', 'Alice cannot insert history'
);
select throws_ok(
  $$update public.session_history set ir_snapshot = '{"spec": "rewritten"}' where version = 1$$,
  '42501', 'permission denied for table session_history', 'Alice cannot rewrite history'
);
select throws_ok('delete from public.session_history', '42501',
                 'permission denied for table session_history', 'Alice cannot delete history');

-- Bob, another user
select tests.authenticate_as('bob');
select results_eq('select ir_snapshot from public.session_history',
                  $$values ('{"spec": "b1"}'::jsonb)$$,
                  'Bob reads only his own history');
select is_empty(
  $$select * from public.session_history
     where session_id = tests.get_session_id('alice history prompt')$$,
  'Bob sees none of Alice''s history'
);
select throws_ok(
  $$insert into public.session_history (session_id, version, ir_snapshot)
    values (tests.get_session_id('alice history prompt'), 3, '{"spec": "bob"}')$$,
  '42501', 'permission denied for table session_history', 'Bob cannot insert into Alice''s history'
);
select throws_ok(
  $$update public.session_history set change_description = 'bob'
     where session_id = tests.get_session_id('alice history prompt')$$,
  '42501', 'permission denied for table session_history', 'Bob cannot update Alice''s history'
);
select throws_ok(
  $$delete from public.session_history
     where session_id = tests.get_session_id('alice history prompt')$$,
  '42501', 'permission denied for table session_history', 'Bob cannot delete Alice''s history'
);

-- service_role
select tests.authenticate_as_service_role();
select results_eq(
  $$select count(*)::integer from public.session_history
     where session_id in (tests.get_session_id('alice history prompt'),
                          tests.get_session_id('bob history prompt'))$$,
  array[3],
  'service_role reads every history'
);
select throws_ok(
  $$insert into public.session_history (session_id, version, ir_snapshot)
    values (tests.get_session_id('alice history prompt'), 3, '{"spec": "server"}')$$,
  '42501', 'permission denied for table session_history', 'service_role cannot insert history'
);
select throws_ok($$update public.session_history set change_description = 'server'$$, '42501',
                 'permission denied for table session_history', 'service_role cannot update history');
select throws_ok('delete from public.session_history', '42501',
                 'permission denied for table session_history', 'service_role cannot delete history');

select tests.clear_authentication();
select results_eq(
  $$select version, ir_snapshot, change_description from public.session_history
     where session_id = tests.get_session_id('alice history prompt') order by version$$,
  $$values (1, '{"spec": "a1"}'::jsonb, null::text), (2, '{"spec": "a2"}'::jsonb, 'second draft')$$,
  'Alice''s history is intact after everyone tried'
);
select results_eq(
  $$select count(*)::integer from public.session_history
     where session_id = tests.get_session_id('bob history prompt')$$,
  array[1],
  'Bob''s history is intact after everyone tried'
);

select * from finish();
rollback;
