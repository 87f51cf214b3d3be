-- Sharing opens a session to search as it opens it to reading. Alice shares one of her two
-- embedded sessions with Carol (viewer) and Dave (editor); the other stays private although it
-- lies right next to the query. Carol and Dave find the shared one by similarity, never the
-- private one, and neither may write its embedding: that stays the owner's. Unsharing closes
-- the search again at once.
begin;
select plan(14);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('carol');
select tests.create_supabase_user('dave');
select tests.create_session('alice', 'alice shared', '{"spec": "s1"}');
select tests.create_session('alice', 'alice private', '{"spec": "p1"}');
select tests.create_session('carol', 'carol own', '{"spec": "c1"}');
select tests.embed_session('alice shared', tests.planar_embedding(0));
select tests.embed_session('alice private', tests.planar_embedding(10));
select tests.embed_session('carol own', tests.planar_embedding(40));
select tests.share_session(tests.get_session_id('alice shared'), 'carol', 'viewer');
select tests.share_session(tests.get_session_id('alice shared'), 'dave', 'editor');

-- Carol, a viewer
select tests.authenticate_as('carol');
select results_eq(
  'select session_id, is_stale from public.match_sessions(tests.planar_embedding(0), 10)',
  $$values (tests.get_session_id('alice shared'), false), (tests.get_session_id('carol own'), false)$$,
  'Carol finds the session shared with her and her own, never Alice''s private one'
);
select results_eq(
  'select session_id from public.session_embeddings order by session_id',
  $$select id from public.sessions where prompt in ('alice shared', 'carol own') order by id$$,
  'Carol reads the shared session''s embedding'
);
select results_eq(
  $$select is_stale from public.session_embedding_status
     where session_id = tests.get_session_id('alice shared')$$,
  array[false],
  'and its status'
);
select throws_ok(
  $$insert into public.session_embeddings (session_id, embedding, model, ir_version)
    values (tests.get_session_id('alice shared'), tests.planar_embedding(90), 'm', 1)
    on conflict (session_id) do update set embedding = excluded.embedding$$,
  '42501', 'new row violates row-level security policy for table "session_embeddings"',
  'a viewer cannot replace the shared session''s embedding'
);
select is_empty(
  $$update public.session_embeddings set model = 'carol'
     where session_id = tests.get_session_id('alice shared') returning session_id$$,
  'a viewer''s update of it affects 0 rows'
);
select throws_ok(
  $$select public.delete_session_embedding(tests.get_session_id('alice shared'))$$,
  '42501', format('only the owner of session %s can delete its embedding',
                  tests.get_session_id('alice shared')),
  'a viewer cannot delete it'
);

-- Dave, an editor: writes the IR, not the embedding.
select tests.authenticate_as('dave');
select results_eq(
  'select session_id from public.match_sessions(tests.planar_embedding(10), 10)',
  $$values (tests.get_session_id('alice shared'))$$,
  'Dave finds the session shared with him, even searching right at Alice''s private one'
);
select lives_ok(
  $$select public.update_session_ir(tests.get_session_id('alice shared'), '{"spec": "s2"}', 1)$$,
  'Dave writes a new IR version'
);
select is_empty(
  $$update public.session_embeddings set embedding = tests.planar_embedding(5), ir_version = 2
     where session_id = tests.get_session_id('alice shared') returning session_id$$,
  'an editor''s update of the embedding affects 0 rows: it stays the owner''s'
);

select tests.authenticate_as('carol');
select results_eq(
  $$select is_stale from public.match_sessions(tests.planar_embedding(0), 1)$$,
  array[true],
  'Carol sees that the shared session''s embedding is now stale'
);

-- Alice unshares with Carol.
select tests.authenticate_as('alice');
select public.delete_session_share(tests.get_session_id('alice shared'),
                                   tests.get_supabase_uid('carol'));
select results_eq(
  $$insert into public.session_embeddings (session_id, embedding, model, ir_version)
    values (tests.get_session_id('alice shared'), tests.planar_embedding(0), 'm', 2)
    on conflict (session_id) do update
      set embedding = excluded.embedding, ir_version = excluded.ir_version
    returning ir_version$$,
  array[2],
  'the owner re-embeds the current IR'
);
select tests.authenticate_as('carol');
select results_eq(
  'select session_id from public.match_sessions(tests.planar_embedding(0), 10)',
  $$values (tests.get_session_id('carol own'))$$,
  'once unshared, the session no longer comes back to Carol'
);
select is_empty(
  $$select * from public.session_embeddings
     where session_id = tests.get_session_id('alice shared')$$,
  'nor can she read its embedding'
);
select tests.authenticate_as('dave');
select results_eq(
  $$select session_id, is_stale from public.match_sessions(tests.planar_embedding(0), 10)$$,
  $$values (tests.get_session_id('alice shared'), false)$$,
  'Dave, still an editor, finds it, fresh again'
);

select * from finish();
rollback;
