-- A signed-in user's search ranks exactly the embeddings they may read (owned or shared with
-- them), by true cosine distance, wherever other users' embeddings lie: 300 of Bob's sit right
-- at Alice's query, and she still gets her own nearest, in order. A share lets the grantee read
-- and find the embedding at once, an unshare or a deleted session removes it from search at once.
begin;
select plan(12);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob');
select tests.create_supabase_user('carol');

-- Alice: 12 sessions at 30°, 35°, … 85°. Bob: 300 at 0° to 2.99°, around the query.
select tests.create_session('alice', format('alice %s', n), '{"spec": "a"}')
  from generate_series(1, 12) as n;
select tests.embed_session(format('alice %s', n), tests.planar_embedding(25 + 5 * n))
  from generate_series(1, 12) as n;
select tests.create_session('bob', format('bob %s', n), '{"spec": "b"}')
  from generate_series(1, 300) as n;
select tests.embed_session(format('bob %s', n), tests.planar_embedding(n / 100.0))
  from generate_series(1, 300) as n;

select results_eq(
  $$select owner_id from public.session_embeddings
     where session_id = tests.get_session_id('alice 1')$$,
  $$values (tests.get_supabase_uid('alice'))$$,
  'an embedding carries its session''s owner'
);

select tests.authenticate_as('alice');
select results_eq(
  'select session_id from public.match_sessions(tests.planar_embedding(0), 10)',
  $$select tests.get_session_id(format('alice %s', n)) from generate_series(1, 10) as n$$,
  'among 300 closer embeddings of Bob''s, Alice gets her own 10 nearest, nearest first'
);
select results_eq(
  $$select session_id, round(similarity::numeric, 6)
      from public.match_sessions(tests.planar_embedding(90), 3)$$,
  $$select tests.get_session_id(format('alice %s', n)), round(cosd(90 - 25 - 5 * n)::numeric, 6)
      from generate_series(12, 10, -1) as n$$,
  'a query elsewhere ranks the same set by its true similarity'
);
select results_eq(
  $$select count(*)::integer from public.match_sessions(tests.planar_embedding(0), 100, 0.5)$$,
  $$select count(*)::integer from generate_series(1, 12) as n where cosd(25 + 5 * n) >= 0.5$$,
  'the similarity threshold applies to the exact ranking'
);

-- Sharing.
select tests.share_session(tests.get_session_id('bob 1'), 'carol', 'viewer');
select tests.authenticate_as('carol');
select results_eq(
  $$select session_id from public.session_embeddings$$,
  $$values (tests.get_session_id('bob 1'))$$,
  'the statement after the share, the grantee reads the embedding'
);
select results_eq(
  'select session_id from public.match_sessions(tests.planar_embedding(0), 10)',
  $$values (tests.get_session_id('bob 1'))$$,
  'Carol finds the session shared with her'
);

select tests.authenticate_as('bob');
select public.delete_session_share(tests.get_session_id('bob 1'), tests.get_supabase_uid('carol'));
select tests.authenticate_as('carol');
select is_empty(
  'select session_id from public.match_sessions(tests.planar_embedding(0), 10)',
  'the statement after the unshare, it is gone from her search'
);
select is_empty(
  $$select from public.session_embeddings$$,
  'and she reads the embedding no more'
);

-- Deleting a session, shared or not.
select tests.share_session(tests.get_session_id('alice 2'), 'carol', 'viewer');
select tests.authenticate_as('alice');
select public.delete_session(tests.get_session_id('alice 1'));
select lives_ok(
  $$select public.delete_session(tests.get_session_id('alice 2'))$$,
  'a shared session with an embedding is deleted, its shares and embedding with it'
);
select results_eq(
  'select session_id from public.match_sessions(tests.planar_embedding(0), 3)',
  $$select tests.get_session_id(format('alice %s', n)) from generate_series(3, 5) as n$$,
  'deleted sessions are gone from search at once'
);

-- service_role searches everything, through the index.
select tests.authenticate_as_service_role();
select results_eq(
  'select session_id from public.match_sessions(tests.planar_embedding(0), 3)',
  $$select tests.get_session_id(format('bob %s', n)) from generate_series(1, 3) as n$$,
  'service_role searches every embedding'
);
select is(
  (select count(*)::integer from public.match_sessions(tests.planar_embedding(0), 100)),
  100,
  'and gets a full page from the index'
);

select * from finish();
rollback;
