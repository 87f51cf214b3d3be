-- Who may do what to a shared session and its history. Alice owns the session and shares it with
-- Erin as editor and Victor as viewer; Mallory is a stranger. Everyone reads what the share
-- grants and nothing more: Victor reads and cannot write, Erin writes the IR (directly, through
-- update_session_ir and through rollback_session) but not the status, prompt or metadata, and
-- neither of them deletes; Mallory sees nothing; anon is refused; service_role does everything.
-- Once Alice unshares, Erin's access ends with the next statement.
begin;
select plan(46);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('erin');
select tests.create_supabase_user('victor');
select tests.create_supabase_user('mallory');
select tests.create_session('alice', 'shared prompt', '{"spec": "a1"}');
select tests.create_session('alice', 'unshared prompt', '{"spec": "private"}');
select tests.create_session('erin', 'erin own prompt');
select tests.share_session(tests.get_session_id('shared prompt'), 'erin', 'editor');
select tests.share_session(tests.get_session_id('shared prompt'), 'victor', 'viewer');

-- Victor, viewer: reads the session and its history, writes nothing.
select tests.authenticate_as('victor');
select results_eq('select prompt from public.sessions', array['shared prompt'],
                  'the viewer sees the shared session and no other');
select results_eq(
  'select version, ir_snapshot from public.session_history',
  $$values (1, '{"spec": "a1"}'::jsonb)$$,
  'the viewer reads the shared session''s history'
);
select is_empty(
  $$update public.sessions set current_ir = '{"spec": "victor"}' where prompt = 'shared prompt'
    returning id$$,
  'the viewer''s update of the IR affects 0 rows'
);
select is_empty(
  $$update public.sessions set status = 'abandoned' where prompt = 'shared prompt' returning id$$,
  'the viewer''s update of the status affects 0 rows'
);
select throws_ok(
  $$select public.update_session_ir(tests.get_session_id('shared prompt'), '{"spec": "v"}', 1)$$,
  'PT404', format('session %s not found', tests.get_session_id('shared prompt')),
  'update_session_ir does not find a session the viewer may only read'
);
select throws_ok(
  $$select public.rollback_session(tests.get_session_id('shared prompt'), 1)$$,
  'PT404', format('session %s not found', tests.get_session_id('shared prompt')),
  'rollback_session does not find a session the viewer may only read'
);
select throws_ok(
  $$select public.delete_session(tests.get_session_id('shared prompt'))$$,
  '42501', format('only the owner of session %s can delete it', tests.get_session_id('shared prompt')),
  'the viewer cannot delete the session'
);
select throws_ok(
  $$insert into public.sessions (user_id, prompt)
    values (tests.get_supabase_uid('alice'), 'planted by victor')$$,
  '42501', 'new row violates row-level security policy for table "sessions"',
  'the viewer cannot create a session owned by the owner'
);
select throws_ok(
  $$insert into public.session_history (session_id, version, ir_snapshot)
    values (tests.get_session_id('shared prompt'), 2, '{"spec": "forged"}')$$,
  '42501', 'permission denied for table session_history', 'the viewer cannot write history'
);

-- Erin, editor: writes the IR three ways, nothing else.
select tests.authenticate_as('erin');
select results_eq('select prompt from public.sessions order by prompt',
                  array['erin own prompt', 'shared prompt'],
                  'the editor sees her own session and the shared one');
select results_eq(
  $$select version from public.session_history
     where session_id = tests.get_session_id('shared prompt')$$,
  array[1],
  'the editor reads the shared session''s history'
);
select results_eq(
  $$update public.sessions set current_ir = '{"spec": "e2"}' where prompt = 'shared prompt'
    returning ir_version$$,
  array[2],
  'the editor writes the IR with a plain update: version 2'
);
select results_eq(
  $$select ir_version from public.update_session_ir(tests.get_session_id('shared prompt'),
                                                     '{"spec": "e3"}', 2, 'erin''s edit')$$,
  array[3],
  'the editor writes the IR through update_session_ir: version 3'
);
select results_eq(
  $$select ir_version, current_ir from public.rollback_session(tests.get_session_id('shared prompt'), 1)$$,
  $$values (4, '{"spec": "a1"}'::jsonb)$$,
  'the editor rolls back: version 4 restores version 1'
);
select throws_ok(
  $$select public.update_session_ir(tests.get_session_id('shared prompt'), '{"spec": "late"}', 3)$$,
  'PT409', null, 'the editor is held to the same optimistic concurrency'
);
select throws_ok(
  $$update public.sessions set status = 'finalized' where prompt = 'shared prompt'$$,
  '42501', format('only the owner of session %s can change its status',
                  tests.get_session_id('shared prompt')),
  'the editor cannot change the status'
);
select throws_ok(
  $$update public.sessions set prompt = 'renamed by erin' where prompt = 'shared prompt'$$,
  '42501', format('only the owner of session %s can change its prompt',
                  tests.get_session_id('shared prompt')),
  'the editor cannot change the prompt'
);
select throws_ok(
  $$update public.sessions set metadata = '{"holes": []}' where prompt = 'shared prompt'$$,
  '42501', format('only the owner of session %s can change its holes and assists',
                  tests.get_session_id('shared prompt')),
  'the editor cannot change holes and assists'
);
select throws_ok(
  $$update public.sessions set current_ir = '{"spec": "e5"}', status = 'abandoned'
     where prompt = 'shared prompt'$$,
  '42501', format('only the owner of session %s can change its status',
                  tests.get_session_id('shared prompt')),
  'an IR write that also changes the status is refused whole'
);
select throws_ok(
  $$update public.sessions set user_id = tests.get_supabase_uid('erin')
     where prompt = 'shared prompt'$$,
  '42501', 'permission denied for table sessions', 'the editor cannot take the session over'
);
select throws_ok(
  $$select public.delete_session(tests.get_session_id('shared prompt'))$$,
  '42501', format('only the owner of session %s can delete it', tests.get_session_id('shared prompt')),
  'the editor cannot delete the session'
);
select throws_ok(
  $$insert into public.sessions (user_id, prompt)
    values (tests.get_supabase_uid('alice'), 'planted by erin')$$,
  '42501', 'new row violates row-level security policy for table "sessions"',
  'the editor cannot create a session owned by the owner'
);
select throws_ok(
  $$delete from public.session_history where session_id = tests.get_session_id('shared prompt')$$,
  '42501', 'permission denied for table session_history', 'the editor cannot delete history'
);
select is_empty(
  $$update public.sessions set current_ir = '{"spec": "erin"}' where prompt = 'unshared prompt'
    returning id$$,
  'the editor of one session cannot write another of the owner''s sessions'
);

-- Mallory, a stranger.
select tests.authenticate_as('mallory');
select is_empty('select * from public.sessions', 'the stranger sees no session');
select is_empty('select * from public.session_history', 'the stranger sees no history');
select is_empty(
  $$update public.sessions set current_ir = '{"spec": "m"}' where prompt = 'shared prompt'
    returning id$$,
  'the stranger''s update affects 0 rows'
);
select throws_ok(
  $$select public.delete_session(tests.get_session_id('shared prompt'))$$,
  'PT404', format('session %s not found', tests.get_session_id('shared prompt')),
  'to the stranger, the session does not exist for delete_session'
);

-- anon
select tests.authenticate_as_anon();
select throws_ok('select * from public.sessions', '42501', 'permission denied for table sessions',
                 'anon cannot read a shared session');
select throws_ok('select * from public.session_history', '42501',
                 'permission denied for table session_history',
                 'anon cannot read a shared session''s history');

-- Alice, the owner, still does everything; and her session is what Erin made of it.
select tests.authenticate_as('alice');
select results_eq(
  $$select version, change_description from public.session_history
     where session_id = tests.get_session_id('shared prompt') order by version$$,
  $$values (1, null::text), (2, null::text), (3, 'erin''s edit'), (4, 'rollback to version 1')$$,
  'the owner reads every version, the editor''s included'
);
select results_eq(
  $$select status, prompt, metadata from public.sessions where prompt = 'shared prompt'$$,
  $$values ('active', 'shared prompt', '{}'::jsonb)$$,
  'the refused edits changed nothing but the IR'
);
select results_eq(
  $$update public.sessions set status = 'finalized' where prompt = 'shared prompt'
    returning status$$,
  $$values ('finalized')$$,
  'the owner changes the status of her shared session'
);

-- Revoking: Erin loses access at once.
select lives_ok(
  $$select public.delete_session_share(tests.get_session_id('shared prompt'),
                                       tests.get_supabase_uid('erin'))$$,
  'the owner unshares the session with the editor'
);
select tests.authenticate_as('erin');
select results_eq('select prompt from public.sessions', array['erin own prompt'],
                  'after unsharing, the former editor sees only her own session');
select is_empty(
  $$select * from public.session_history where session_id = tests.get_session_id('shared prompt')$$,
  'after unsharing, the former editor reads no history'
);
select throws_ok(
  $$select public.update_session_ir(tests.get_session_id('shared prompt'), '{"spec": "e9"}')$$,
  'PT404', format('session %s not found', tests.get_session_id('shared prompt')),
  'after unsharing, the former editor cannot write the IR'
);
select is_empty(
  $$update public.sessions set current_ir = '{"spec": "e9"}' where prompt = 'shared prompt'
    returning id$$,
  'after unsharing, the former editor''s update affects 0 rows'
);
select tests.authenticate_as('victor');
select results_eq('select prompt from public.sessions', array['shared prompt'],
                  'the viewer''s share is untouched by the editor''s revocation');

-- service_role
select tests.authenticate_as_service_role();
select results_eq(
  $$select count(*)::integer from public.sessions
     where prompt in ('shared prompt', 'unshared prompt', 'erin own prompt')$$,
  array[3], 'service_role sees every session'
);
select results_eq(
  $$select ir_version from public.update_session_ir(tests.get_session_id('shared prompt'),
                                                     '{"spec": "server"}', 4)$$,
  array[5], 'service_role writes the IR of any session'
);
select results_eq(
  $$update public.sessions set status = 'active' where prompt = 'shared prompt' returning status$$,
  $$values ('active')$$,
  'service_role changes the status of a shared session'
);
select results_eq(
  $$delete from public.sessions where prompt = 'unshared prompt' returning prompt$$,
  $$values ('unshared prompt')$$,
  'service_role deletes any session'
);

-- Deleting a shared session takes its shares with it.
select tests.authenticate_as('alice');
select lives_ok(
  $$select public.delete_session(tests.get_session_id('shared prompt'))$$,
  'the owner deletes her shared session'
);
select tests.clear_authentication();
select is_empty(
  $$select * from public.session_shares
     where user_id in (tests.get_supabase_uid('erin'), tests.get_supabase_uid('victor'))$$,
  'its shares went with it'
);
select tests.authenticate_as('victor');
select is_empty('select * from public.sessions', 'and the viewer sees nothing any more');

select * from finish();
rollback;
