-- Who may do what to public.comments. Alice owns a session with two IR versions, shared with Erin
-- (editor) and Victor (viewer); Mallory is a stranger. Whoever reads the session reads its
-- comments and adds their own, on the session or on one version; authors edit and delete their
-- own; Alice may delete any comment on her session; nobody comments as someone else or moves a
-- comment. Mallory sees and writes nothing, anon is refused, service_role manages every comment.
-- A viewer whose share is revoked loses his comments' thread with it.
begin;
select plan(40);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('erin');
select tests.create_supabase_user('victor');
select tests.create_supabase_user('mallory');
select tests.create_session('alice', 'commented prompt', '{"spec": "a1"}');
select public.update_session_ir(tests.get_session_id('commented prompt'), '{"spec": "a2"}', 1);
select tests.create_session('mallory', 'mallory prompt');
select tests.share_session(tests.get_session_id('commented prompt'), 'erin', 'editor');
select tests.share_session(tests.get_session_id('commented prompt'), 'victor', 'viewer');

-- Everyone who reads the session comments on it.
select tests.authenticate_as('alice');
select results_eq(
  $$insert into public.comments (session_id, body)
    values (tests.get_session_id('commented prompt'), 'alice: the session') returning author_id$$,
  $$select tests.get_supabase_uid('alice')$$,
  'the owner comments on her session, as herself by default'
);
select tests.authenticate_as('erin');
select results_eq(
  $$insert into public.comments (session_id, version, body)
    values (tests.get_session_id('commented prompt'), 2, 'erin: on version 2') returning version$$,
  array[2],
  'the editor comments on one version'
);
select tests.authenticate_as('victor');
select results_eq(
  $$insert into public.comments (session_id, version, body)
    values (tests.get_session_id('commented prompt'), 1, 'victor: on version 1') returning version$$,
  array[1],
  'the viewer comments too'
);
select throws_ok(
  $$insert into public.comments (session_id, author_id, body)
    values (tests.get_session_id('commented prompt'), tests.get_supabase_uid('alice'),
            'victor pretending to be alice')$$,
  '42501', 'new row violates row-level security policy for table "comments"',
  'the viewer cannot comment in the owner''s name'
);
select tests.clear_authentication();
create temporary table comment_ids on commit drop as
select
c.id,
pg_catalog.split_part(c.body, ':', 1) as who
from public.comments as c;
grant select on comment_ids to authenticated;
select tests.authenticate_as('victor');
select results_eq(
  'select body from public.comments order by body',
  array['alice: the session', 'erin: on version 2', 'victor: on version 1'],
  'the viewer reads every comment of the session'
);
select results_eq(
  $$update public.comments set body = 'victor: on version 1, edited'
     where body = 'victor: on version 1' returning body$$,
  $$values ('victor: on version 1, edited')$$,
  'the viewer edits his own comment'
);
select is_empty(
  $$update public.comments set body = 'rewritten by victor' where body = 'alice: the session'
    returning id$$,
  'the viewer cannot edit the owner''s comment'
);
select throws_ok(
  $$select public.delete_comment((select id from comment_ids where who = 'erin'))$$,
  '42501', format('only the author of comment %s or the session''s owner can delete it',
                  (select id from comment_ids where who = 'erin')),
  'the viewer cannot delete the editor''s comment'
);
select throws_ok(
  $$update public.comments set version = 2 where body like 'victor:%'$$,
  '42501', 'permission denied for table comments', 'the viewer cannot move his comment to another version'
);
select throws_ok(
  $$update public.comments set author_id = tests.get_supabase_uid('erin') where body like 'victor:%'$$,
  '42501', 'permission denied for table comments', 'the viewer cannot give his comment to someone else'
);

-- Erin, editor: no more rights over comments than a viewer.
select tests.authenticate_as('erin');
select results_eq('select count(*)::integer from public.comments', array[3],
                  'the editor reads every comment of the session');
select is_empty(
  $$update public.comments set body = 'rewritten by erin' where body like 'victor:%' returning id$$,
  'the editor cannot edit the viewer''s comment'
);
select throws_ok(
  $$select public.delete_comment((select id from comment_ids where who = 'victor'))$$,
  '42501', format('only the author of comment %s or the session''s owner can delete it',
                  (select id from comment_ids where who = 'victor')),
  'the editor cannot delete the viewer''s comment'
);
select throws_ok(
  $$delete from public.comments where body = 'erin: on version 2'$$,
  '42501', 'permission denied for table comments',
  'not even the author deletes through the table (no table locks)'
);
select lives_ok(
  $$select public.delete_comment((select id from comment_ids where who = 'erin'))$$,
  'the editor deletes her own comment'
);

-- Mallory, a stranger
select tests.authenticate_as('mallory');
select is_empty('select * from public.comments', 'the stranger reads no comment');
select throws_ok(
  $$insert into public.comments (session_id, body)
    values (tests.get_session_id('commented prompt'), 'mallory was here')$$,
  '42501', 'new row violates row-level security policy for table "comments"',
  'the stranger cannot comment on a session she cannot read'
);
select is_empty(
  $$update public.comments set body = 'mallory' returning id$$,
  'the stranger''s edit affects 0 rows'
);
select throws_ok(
  $$select public.delete_comment((select id from comment_ids where who = 'alice'))$$,
  'PT404', format('comment %s not found', (select id from comment_ids where who = 'alice')),
  'to the stranger, the comment does not exist for delete_comment'
);
select results_eq(
  $$insert into public.comments (session_id, body)
    values (tests.get_session_id('mallory prompt'), 'mallory: my own') returning body$$,
  $$values ('mallory: my own')$$,
  'the stranger comments on her own session'
);

-- anon
select tests.authenticate_as_anon();
select throws_ok('select * from public.comments', '42501', 'permission denied for table comments',
                 'anon cannot read comments');
select throws_ok(
  $$insert into public.comments (session_id, author_id, body)
    values (tests.get_session_id('commented prompt'), tests.get_supabase_uid('alice'), 'anon')$$,
  '42501', 'permission denied for table comments', 'anon cannot comment'
);
select throws_ok($$update public.comments set body = 'anon'$$, '42501',
                 'permission denied for table comments', 'anon cannot edit comments');
select throws_ok('delete from public.comments', '42501', 'permission denied for table comments',
                 'anon cannot delete comments');

-- Alice, the owner: moderates her session.
select tests.authenticate_as('alice');
select results_eq('select body from public.comments order by body',
                  array['alice: the session', 'victor: on version 1, edited'],
                  'the owner reads her session''s comments and no other');
select is_empty(
  $$update public.comments set body = 'alice rewrites victor' where body like 'victor:%'
    returning id$$,
  'the owner cannot edit someone else''s comment'
);
select results_eq(
  $$update public.comments set body = 'alice: the whole session' where body = 'alice: the session'
    returning body$$,
  $$values ('alice: the whole session')$$,
  'the owner edits her own comment'
);

-- Revoking Victor's share takes the thread away from him, his own comment included.
select lives_ok(
  $$select public.delete_session_share(tests.get_session_id('commented prompt'),
                                       tests.get_supabase_uid('victor'))$$,
  'the owner unshares the session with the viewer'
);
select tests.authenticate_as('victor');
select is_empty('select * from public.comments', 'after unsharing, the former viewer reads no comment');
select is_empty(
  $$update public.comments set body = 'victor, late' where body like 'victor:%' returning id$$,
  'after unsharing, the former viewer cannot edit his comment'
);
select throws_ok(
  $$select public.delete_comment((select id from comment_ids where who = 'victor'))$$,
  'PT404', format('comment %s not found', (select id from comment_ids where who = 'victor')),
  'after unsharing, the former viewer cannot delete his comment: it no longer exists for him'
);
select throws_ok(
  $$insert into public.comments (session_id, body)
    values (tests.get_session_id('commented prompt'), 'victor, after')$$,
  '42501', 'new row violates row-level security policy for table "comments"',
  'after unsharing, the former viewer cannot comment'
);
select tests.authenticate_as('alice');
select lives_ok(
  $$select public.delete_comment((select id from comment_ids where who = 'victor'))$$,
  'the owner deletes the former viewer''s comment'
);

-- service_role
select tests.authenticate_as_service_role();
select results_eq(
  $$select count(*)::integer from public.comments
     where session_id in (tests.get_session_id('commented prompt'),
                          tests.get_session_id('mallory prompt'))$$,
  array[2], 'service_role reads every comment'
);
select results_eq(
  $$insert into public.comments (session_id, version, author_id, body)
    values (tests.get_session_id('commented prompt'), 1, tests.get_supabase_uid('erin'),
            'written by the server') returning version$$,
  array[1], 'service_role comments in any user''s name'
);
select results_eq(
  $$update public.comments set body = 'edited by the server' where body = 'written by the server'
    returning body$$,
  $$values ('edited by the server')$$,
  'service_role edits any comment'
);
select throws_ok(
  $$update public.comments set session_id = tests.get_session_id('mallory prompt')
     where body = 'edited by the server'$$,
  '42501', 'only the body of a comment can change',
  'not even service_role can move a comment'
);
select results_eq(
  $$delete from public.comments where body = 'mallory: my own' returning body$$,
  $$values ('mallory: my own')$$,
  'service_role deletes any comment'
);

-- Comments go with their session.
select tests.authenticate_as('alice');
select lives_ok($$select public.delete_session(tests.get_session_id('commented prompt'))$$,
                'the owner deletes the commented session');
select tests.clear_authentication();
select is_empty(
  $$select * from public.comments where author_id in (tests.get_supabase_uid('alice'),
                                                      tests.get_supabase_uid('erin'))$$,
  'its comments went with it'
);

select * from finish();
rollback;
