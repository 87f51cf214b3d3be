-- Who may do what to public.session_shares. Alice owns a session shared with Erin (editor) and
-- Victor (viewer); Mallory is a stranger. Only Alice shares, changes a role and unshares others;
-- Erin and Victor each see their own share and cannot re-share, promote themselves or unshare
-- anyone else, but each may leave (remove their own share); Mallory cannot share Alice's
-- session with herself; anon is refused; service_role manages any share. The policies of
-- sessions and session_shares read each other's tables through helpers, and no query here
-- recurses.
begin;
select plan(40);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('erin');
select tests.create_supabase_user('victor');
select tests.create_supabase_user('mallory');
select tests.create_session('alice', 'shared prompt', '{"spec": "a1"}');
select tests.create_session('mallory', 'mallory prompt');
select tests.share_session(tests.get_session_id('shared prompt'), 'erin', 'editor');
select tests.share_session(tests.get_session_id('shared prompt'), 'victor', 'viewer');

-- anon
select tests.authenticate_as_anon();
select throws_ok('select * from public.session_shares', '42501',
                 'permission denied for table session_shares', 'anon cannot read shares');
select throws_ok(
  $$insert into public.session_shares (session_id, user_id, role)
    values (tests.get_session_id('shared prompt'), tests.get_supabase_uid('mallory'), 'editor')$$,
  '42501', 'permission denied for table session_shares', 'anon cannot share'
);
select throws_ok($$update public.session_shares set role = 'editor'$$, '42501',
                 'permission denied for table session_shares', 'anon cannot change a role');
select throws_ok('delete from public.session_shares', '42501',
                 'permission denied for table session_shares', 'anon cannot unshare');

-- Mallory, a stranger
select tests.authenticate_as('mallory');
select is_empty('select * from public.session_shares', 'the stranger sees no share');
select throws_ok(
  $$insert into public.session_shares (session_id, user_id, role)
    values (tests.get_session_id('shared prompt'), tests.get_supabase_uid('mallory'), 'editor')$$,
  '42501', 'new row violates row-level security policy for table "session_shares"',
  'the stranger cannot share someone else''s session with herself'
);
select throws_ok(
  $$insert into public.session_shares (session_id, user_id, role)
    values (tests.get_session_id('shared prompt'), tests.get_supabase_uid('alice'), 'viewer')$$,
  '42501', 'new row violates row-level security policy for table "session_shares"',
  'the stranger learns nothing from naming the owner: the policy refuses first'
);
select is_empty(
  $$update public.session_shares set role = 'viewer' returning session_id$$,
  'the stranger''s role change affects 0 rows'
);
select throws_ok(
  $$select public.delete_session_share(tests.get_session_id('shared prompt'),
                                       tests.get_supabase_uid('erin'))$$,
  'PT404', format('session %s not found', tests.get_session_id('shared prompt')),
  'to the stranger, the session does not exist for delete_session_share'
);
select is_empty('select * from public.sessions where prompt = ''shared prompt''',
                'the stranger still cannot read the session');
select results_eq(
  $$insert into public.session_shares (session_id, user_id, role)
    values (tests.get_session_id('mallory prompt'), tests.get_supabase_uid('alice'), 'viewer')
    returning role$$,
  $$values ('viewer')$$,
  'the stranger shares her own session: the wall is ownership, not the action'
);
select lives_ok(
  $$select public.delete_session_share(tests.get_session_id('mallory prompt'),
                                       tests.get_supabase_uid('alice'))$$,
  'and unshares it again'
);

-- Victor, viewer
select tests.authenticate_as('victor');
select results_eq('select user_id, role from public.session_shares',
                  $$values (tests.get_supabase_uid('victor'), 'viewer')$$,
                  'the viewer sees his own share and no other');
select is_empty(
  $$update public.session_shares set role = 'editor'
     where user_id = tests.get_supabase_uid('victor') returning role$$,
  'the viewer cannot promote himself to editor'
);
select throws_ok(
  $$insert into public.session_shares (session_id, user_id, role)
    values (tests.get_session_id('shared prompt'), tests.get_supabase_uid('mallory'), 'viewer')$$,
  '42501', 'new row violates row-level security policy for table "session_shares"',
  'the viewer cannot re-share'
);
select throws_ok(
  $$select public.delete_session_share(tests.get_session_id('shared prompt'),
                                       tests.get_supabase_uid('erin'))$$,
  '42501', format('only the owner of session %s can unshare it',
                  tests.get_session_id('shared prompt')),
  'the viewer cannot remove another grantee''s share'
);

-- Erin, editor
select tests.authenticate_as('erin');
select results_eq('select user_id, role from public.session_shares',
                  $$values (tests.get_supabase_uid('erin'), 'editor')$$,
                  'the editor sees her own share and no other');
select throws_ok(
  $$insert into public.session_shares (session_id, user_id, role)
    values (tests.get_session_id('shared prompt'), tests.get_supabase_uid('mallory'), 'editor')$$,
  '42501', 'new row violates row-level security policy for table "session_shares"',
  'the editor cannot re-share'
);
select is_empty(
  $$update public.session_shares set role = 'editor'
     where user_id = tests.get_supabase_uid('victor') returning role$$,
  'the editor cannot promote the viewer'
);
select throws_ok(
  $$select public.delete_session_share(tests.get_session_id('shared prompt'),
                                       tests.get_supabase_uid('victor'))$$,
  '42501', format('only the owner of session %s can unshare it',
                  tests.get_session_id('shared prompt')),
  'the editor cannot unshare the viewer'
);
select throws_ok(
  $$update public.session_shares set user_id = tests.get_supabase_uid('mallory')$$,
  '42501', 'permission denied for table session_shares',
  'the editor cannot hand her share to someone else'
);

-- Alice, the owner
select tests.authenticate_as('alice');
select results_eq(
  'select user_id, role from public.session_shares order by role',
  $$values (tests.get_supabase_uid('erin'), 'editor'), (tests.get_supabase_uid('victor'), 'viewer')$$,
  'the owner sees every share of her session'
);
select results_eq(
  $$insert into public.session_shares (session_id, user_id)
    values (tests.get_session_id('shared prompt'), tests.get_supabase_uid('mallory'))
    returning role$$,
  $$values ('viewer')$$,
  'the owner shares with another user, as viewer by default'
);
select results_eq(
  $$update public.session_shares set role = 'editor'
     where user_id = tests.get_supabase_uid('victor') returning role$$,
  $$values ('editor')$$,
  'the owner changes a share''s role'
);
select throws_ok(
  $$insert into public.session_shares (session_id, user_id, role)
    values (tests.get_session_id('shared prompt'), tests.get_supabase_uid('erin'), 'viewer')$$,
  '23505', null,
  'a user has at most one share of a session'
);
select throws_ok(
  $$delete from public.session_shares where user_id = tests.get_supabase_uid('mallory')$$,
  '42501', 'permission denied for table session_shares',
  'not even the owner deletes shares through the table (no table locks)'
);
select lives_ok(
  $$select public.delete_session_share(tests.get_session_id('shared prompt'),
                                       tests.get_supabase_uid('mallory'))$$,
  'the owner unshares'
);
select throws_ok(
  $$select public.delete_session_share(tests.get_session_id('shared prompt'),
                                       tests.get_supabase_uid('mallory'))$$,
  'PT404', format('session %s is not shared with user %s', tests.get_session_id('shared prompt'),
                  tests.get_supabase_uid('mallory')),
  'unsharing what is not shared says so'
);
select throws_ok(
  $$update public.session_shares set session_id = tests.get_session_id('mallory prompt')$$,
  '42501', 'permission denied for table session_shares',
  'the owner cannot move a share to another session'
);
select lives_ok(
  $$select s.id, (select count(*) from public.session_shares as sh where sh.session_id = s.id)
      from public.sessions as s$$,
  'sessions and shares read together without policy recursion'
);

-- service_role
select tests.authenticate_as_service_role();
select results_eq(
  $$select count(*)::integer from public.session_shares
     where session_id = tests.get_session_id('shared prompt')$$,
  array[2], 'service_role sees every share'
);
select results_eq(
  $$insert into public.session_shares (session_id, user_id, role)
    values (tests.get_session_id('mallory prompt'), tests.get_supabase_uid('erin'), 'editor')
    returning role$$,
  $$values ('editor')$$,
  'service_role shares any session'
);
select results_eq(
  $$update public.session_shares set role = 'viewer'
     where session_id = tests.get_session_id('mallory prompt') returning role$$,
  $$values ('viewer')$$,
  'service_role changes any share''s role'
);
select throws_ok(
  $$update public.session_shares set user_id = tests.get_supabase_uid('victor')
     where session_id = tests.get_session_id('mallory prompt')$$,
  '42501', 'a share cannot move to another session or user',
  'not even service_role can move a share'
);
select results_eq(
  $$delete from public.session_shares where session_id = tests.get_session_id('mallory prompt')
    returning user_id$$,
  $$select tests.get_supabase_uid('erin')$$,
  'service_role unshares any session'
);

select tests.clear_authentication();
select set_eq(
  $$select user_id, role from public.session_shares
     where session_id = tests.get_session_id('shared prompt')$$,
  $$values (tests.get_supabase_uid('erin'), 'editor'), (tests.get_supabase_uid('victor'), 'editor')$$,
  'after everyone tried, the shares are exactly what the owner made them'
);

-- A grantee may leave a share pushed on them.
select tests.authenticate_as('victor');
select lives_ok(
  $$select public.delete_session_share(tests.get_session_id('shared prompt'),
                                       tests.get_supabase_uid('victor'))$$,
  'a grantee removes his own share'
);
select is_empty('select * from public.sessions', 'and no longer sees the session');
select throws_ok(
  $$select public.delete_session_share(tests.get_session_id('shared prompt'),
                                       tests.get_supabase_uid('victor'))$$,
  'PT404', format('session %s not found', tests.get_session_id('shared prompt')),
  'leaving again: the session no longer exists for him'
);
select tests.authenticate_as('alice');
select results_eq('select user_id, role from public.session_shares',
                  $$values (tests.get_supabase_uid('erin'), 'editor')$$,
                  'the owner sees the share gone');

select * from finish();
rollback;
