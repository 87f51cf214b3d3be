-- Who may do what to public.sessions. Alice owns two sessions, Bob one. anon gets nothing; Alice
-- does everything to her own sessions but cannot give one away or plant one on Bob; Bob sees
-- none of Alice's sessions and his writes to them affect nothing; service_role sees and manages
-- every session, yet not even it can change a session's owner.
begin;
select plan(30);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob');
select tests.create_session('alice', 'alice prompt one', '{"spec": "a1"}');
select tests.create_session('alice', 'alice prompt two');
select tests.create_session('bob', 'bob prompt', '{"spec": "b1"}');

-- anon
select tests.authenticate_as_anon();
select throws_ok('select * from public.sessions', '42501', 'permission denied for table sessions',
                 'anon cannot read sessions');
select throws_ok(
  $$insert into public.sessions (user_id, prompt)
    values (tests.get_supabase_uid('alice'), 'anon prompt')$$,
  '42501', 'permission denied for table sessions', 'anon cannot insert sessions'
);
select throws_ok($$update public.sessions set status = 'abandoned'$$, '42501',
                 'permission denied for table sessions', 'anon cannot update sessions');
select throws_ok('delete from public.sessions', '42501', 'permission denied for table sessions',
                 'anon cannot delete sessions');
select throws_ok(
  $$select public.update_session_ir(gen_random_uuid(), '{}'::jsonb)$$,
  '42501', 'permission denied for function update_session_ir',
  'anon cannot call update_session_ir'
);
select throws_ok(
  $$select public.rollback_session(gen_random_uuid(), 1)$$,
  '42501', 'permission denied for function rollback_session', 'anon cannot call rollback_session'
);

-- Alice, the owner
select tests.authenticate_as('alice');
select results_eq('select prompt from public.sessions order by prompt',
                  array['alice prompt one', 'alice prompt two'],
                  'Alice sees exactly her own sessions');
select results_eq(
  $$insert into public.sessions (prompt) values ('alice prompt three') returning user_id$$,
  $$select tests.get_supabase_uid('alice')$$,
  'a session Alice creates is hers by default'
);
select results_eq(
  $$update public.sessions set status = 'finalized' where prompt = 'alice prompt one'
    returning status$$,
  $$values ('finalized')$$,
  'Alice updates her own session'
);
select throws_ok(
  $$update public.sessions set user_id = tests.get_supabase_uid('bob')
     where prompt = 'alice prompt one'$$,
  '42501', 'permission denied for table sessions', 'Alice cannot hand her session to Bob'
);
select throws_ok(
  $$insert into public.sessions (user_id, prompt)
    values (tests.get_supabase_uid('bob'), 'planted on bob')$$,
  '42501', 'new row violates row-level security policy for table "sessions"',
  'Alice cannot create a session owned by Bob'
);
select throws_ok(
  $$delete from public.sessions where prompt = 'alice prompt two'$$,
  '42501', 'permission denied for table sessions',
  'not even the owner deletes through the table (no table-level DELETE: no table locks)'
);
select lives_ok(
  $$select public.delete_session(tests.get_session_id('alice prompt two'))$$,
  'Alice deletes her own session with public.delete_session'
);

-- Bob, another user
select tests.authenticate_as('bob');
select results_eq('select prompt from public.sessions', array['bob prompt'],
                  'Bob sees only his own session');
select is_empty(
  $$update public.sessions set status = 'abandoned', current_ir = '{"spec": "bob"}'
     where user_id = tests.get_supabase_uid('alice') returning id$$,
  'Bob''s update of Alice''s sessions affects 0 rows'
);
select throws_ok(
  $$select public.delete_session(tests.get_session_id('alice prompt one'))$$,
  'PT404', format('session %s not found', tests.get_session_id('alice prompt one')),
  'to Bob, Alice''s session does not exist for delete_session'
);
select throws_ok(
  $$insert into public.sessions (user_id, prompt)
    values (tests.get_supabase_uid('alice'), 'planted on alice')$$,
  '42501', 'new row violates row-level security policy for table "sessions"',
  'Bob cannot create a session owned by Alice'
);
select throws_ok(
  $$select public.update_session_ir(tests.get_session_id('alice prompt one'), '{"spec": "bob"}')$$,
  'PT404', format('session %s not found', tests.get_session_id('alice prompt one')),
  'to Bob, Alice''s session does not exist for update_session_ir'
);
select throws_ok(
  $$select public.rollback_session(tests.get_session_id('alice prompt one'), 1)$$,
  'PT404', format('session %s not found', tests.get_session_id('alice prompt one')),
  'to Bob, Alice''s session does not exist for rollback_session'
);

select tests.clear_authentication();
select results_eq(
  $$select prompt, status, current_ir, ir_version from public.sessions
     where user_id = tests.get_supabase_uid('alice') order by prompt$$,
  $$values ('alice prompt one', 'finalized', '{"spec": "a1"}'::jsonb, 1),
           ('alice prompt three', 'active', null::jsonb, 0)$$,
  'Alice''s sessions are exactly as she left them after Bob'
);

-- service_role
select tests.authenticate_as_service_role();
select results_eq(
  $$select prompt from public.sessions
     where user_id in (tests.get_supabase_uid('alice'), tests.get_supabase_uid('bob'))
     order by prompt$$,
  array['alice prompt one', 'alice prompt three', 'bob prompt'],
  'service_role sees every user''s sessions'
);
select results_eq(
  $$insert into public.sessions (user_id, prompt)
    values (tests.get_supabase_uid('bob'), 'made by the server') returning user_id$$,
  $$select tests.get_supabase_uid('bob')$$,
  'service_role creates a session for any user'
);
select throws_ok(
  $$insert into public.sessions (prompt) values ('nobody''s')$$,
  '23502', null,
  'service_role must name the owner: there is no caller to default to'
);
select results_eq(
  $$update public.sessions set status = 'abandoned' where prompt = 'alice prompt three'
    returning status$$,
  $$values ('abandoned')$$,
  'service_role updates any session'
);
select throws_ok(
  $$update public.sessions set user_id = tests.get_supabase_uid('bob')
     where prompt = 'alice prompt one'$$,
  '42501', 'a session cannot change its id or owner',
  'not even service_role can change a session''s owner'
);
select results_eq(
  $$delete from public.sessions where prompt = 'made by the server' returning prompt$$,
  $$values ('made by the server')$$,
  'service_role deletes any session'
);

-- Bob's own session is his to run: the wall is the owner, not the action.
select tests.authenticate_as('bob');
select results_eq(
  $$select ir_version from public.update_session_ir(
      (select s.id from public.sessions as s where s.prompt = 'bob prompt'),
      '{"spec": "b2"}'::jsonb, 1)$$,
  array[2],
  'Bob writes a new IR version of his own session'
);
select results_eq(
  $$update public.sessions set metadata = '{"holes": []}' where prompt = 'bob prompt'
    returning metadata$$,
  $$values ('{"holes": []}'::jsonb)$$,
  'Bob updates his own session'
);
select lives_ok(
  $$select public.delete_session(tests.get_session_id('bob prompt'))$$,
  'Bob deletes his own session'
);
select is_empty($$select 1 from public.sessions where prompt = 'bob prompt'$$,
                'and it is gone');

select * from finish();
rollback;
