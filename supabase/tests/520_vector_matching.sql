-- What a search returns, on embeddings whose true ranking is known. Alice has fifteen sessions
-- embedded in one plane every 25 degrees; the query lies at 10 degrees, so each session's cosine
-- similarity is exactly cos(its angle - 10) and no two are tied. The search must return them in
-- that order with those similarities (the order of an exact scan), honour match_count and
-- min_similarity, and not care about the query's length.
begin;
select plan(13);

select tests.create_supabase_user('alice');
select tests.create_session('alice', format('angle %s', a), '{"spec": "planar"}')
  from generate_series(0, 350, 25) as a;
select tests.embed_session(format('angle %s', a), tests.planar_embedding(a))
  from generate_series(0, 350, 25) as a;
-- The true ranking, from the angles alone.
create temporary table expected on commit drop as
select
  a as angle,
  tests.get_session_id(format('angle %s', a)) as session_id,
  cosd(a - 10) as similarity,
  row_number() over (order by cosd(a - 10) desc) as rank
from generate_series(0, 350, 25) as a;
grant select on expected to authenticated;

select tests.authenticate_as('alice');
select results_eq(
  'select session_id from public.match_sessions(tests.planar_embedding(10), 15)',
  'select session_id from expected order by rank',
  'all fifteen come back in true similarity order'
);
select is_empty(
  $$select *
      from public.match_sessions(tests.planar_embedding(10), 15) as m
      join expected as x using (session_id)
     where abs(m.similarity - x.similarity) > 1e-6$$,
  'each with its true similarity (to float4 precision)'
);

-- The same ranking as an exact scan: no index, every distance computed.
set local enable_indexscan = off;
create temporary table exact_scan on commit drop as
select
  e.session_id,
  1 - (e.embedding operator (extensions.<=>) tests.planar_embedding(10)) as similarity
from public.session_embeddings as e
order by e.embedding operator (extensions.<=>) tests.planar_embedding(10)
limit 15;
reset enable_indexscan;
select results_eq(
  'select session_id from public.match_sessions(tests.planar_embedding(10), 15)',
  'select session_id from exact_scan',
  'results and order equal an exact scan'
);

select results_eq(
  'select session_id from public.match_sessions(tests.planar_embedding(10), 5)',
  'select session_id from expected where rank <= 5 order by rank',
  'match_count 5 gives the five most similar'
);
select results_eq(
  'select count(*)::integer from public.match_sessions(tests.planar_embedding(10))',
  array[10],
  'match_count defaults to 10'
);
select results_eq(
  'select session_id from public.match_sessions(tests.planar_embedding(10), 100, 0.5)',
  'select session_id from expected where similarity >= 0.5 order by rank',
  'min_similarity 0.5 keeps exactly those within 60 degrees'
);
select results_eq(
  'select session_id from public.match_sessions(tests.planar_embedding(10), 3, 0.5)',
  'select session_id from expected where rank <= 3 order by rank',
  'match_count still caps a thresholded search'
);
select results_eq(
  'select count(*)::integer from public.match_sessions(tests.planar_embedding(10), 100, -1)',
  array[15],
  'min_similarity -1 keeps everything, down to the opposite direction'
);
select ok(
  (select min(similarity) < 0 from public.match_sessions(tests.planar_embedding(10), 100)),
  'dissimilar sessions have negative similarity'
);
select is_empty(
  'select * from public.match_sessions(tests.planar_embedding(10), 100, 1)',
  'min_similarity 1 keeps only identical directions: none here'
);
select is_empty(
  $$select *
      from public.match_sessions(
             (select (array_agg(t.x * 7.5 order by t.i))::extensions.vector
                from unnest(tests.planar_embedding(10)::real[]) with ordinality as t (x, i)),
             15) with ordinality as m
      join expected as x using (session_id)
     where m.ordinality <> x.rank or abs(m.similarity - x.similarity) > 1e-6$$,
  'the query''s length does not matter, only its direction'
);

-- Equal similarities come back in session id order, the same for every call.
select tests.clear_authentication();
select tests.create_session('alice', 'twin a', '{"spec": "twin"}');
select tests.create_session('alice', 'twin b', '{"spec": "twin"}');
select tests.embed_session('twin a', tests.planar_embedding(190));
select tests.embed_session('twin b', tests.planar_embedding(190));
select tests.authenticate_as('alice');
select results_eq(
  'select session_id from public.match_sessions(tests.planar_embedding(190), 2)',
  $$select id from public.sessions where prompt in ('twin a', 'twin b') order by id$$,
  'ties are broken by session id'
);
select results_eq(
  $$select round(similarity::numeric, 5) from public.match_sessions(tests.planar_embedding(190), 2)$$,
  $$values (1.00000), (1.00000)$$,
  'an identical direction has similarity 1'
);

select * from finish();
rollback;
