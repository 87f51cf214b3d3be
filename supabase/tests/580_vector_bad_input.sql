-- Bad input to search and to stored embeddings, from a signed-in user: each mistake fails with a
-- message that names it, and nothing Alice has (sessions, history, embeddings) changes.
begin;
select plan(36);

select tests.create_supabase_user('alice');
select tests.create_session('alice', 'embedded spec', '{"spec": "v1"}');
select tests.create_session('alice', 'unembedded spec', '{"spec": "v1"}');
select tests.create_session('alice', 'spec without ir');
select tests.embed_session('embedded spec', tests.planar_embedding(0));

-- Vectors to misuse, built once: a 1536-component text with one bad component, and others.
create temporary table probe on commit drop as
select
  '[1,0,0]'::extensions.vector as three_dimensions,
  (tests.planar_embedding(0)::real[] || array[0::real])::extensions.vector as one_too_many,
  array_fill(0::real, array[1536])::extensions.vector as zero,
  ('[1e-50' || repeat(',0', 1535) || ']') as underflowing_text,
  ('[NaN' || repeat(',0', 1535) || ']') as nan_text,
  ('[Infinity' || repeat(',0', 1535) || ']') as infinity_text,
  ('[-Infinity' || repeat(',0', 1535) || ']') as minus_infinity_text,
  ('[1e39' || repeat(',0', 1535) || ']') as overflowing_text;
grant select on probe to authenticated;

create function pg_temp.digest() returns text
language sql
as $$
  select tests.user_data_digest('alice') || coalesce(
    (select md5(jsonb_agg(to_jsonb(e) order by e.session_id)::text)
       from public.session_embeddings as e
       join public.sessions as s on s.id = e.session_id
      where s.user_id = tests.get_supabase_uid('alice')), 'none')
$$;
select set_config('test.digest', pg_temp.digest(), true);

select tests.authenticate_as('alice');

-- Search: the query embedding.
select throws_ok(
  'select * from public.match_sessions((select three_dimensions from probe))',
  '22023', 'query_embedding has 3 dimensions; session embeddings have 1536',
  'a query of the wrong dimension is refused, naming both dimensions'
);
select throws_ok(
  'select * from public.match_sessions((select one_too_many from probe))',
  '22023', 'query_embedding has 1537 dimensions; session embeddings have 1536',
  'a query one dimension too long is refused'
);
select throws_ok(
  'select * from public.match_sessions((select zero from probe))',
  '22023', 'query_embedding is the zero vector, for which cosine similarity is undefined',
  'the zero vector is refused'
);
select throws_ok(
  'select * from public.match_sessions((select underflowing_text from probe)::extensions.vector)',
  '22023', 'query_embedding is the zero vector, for which cosine similarity is undefined',
  'components too small for float4 become 0: a vector of them is the zero vector'
);
select throws_ok(
  'select * from public.match_sessions((select nan_text from probe)::extensions.vector)',
  '22000', 'NaN not allowed in vector', 'a NaN component is refused'
);
select throws_ok(
  'select * from public.match_sessions((select infinity_text from probe)::extensions.vector)',
  '22000', 'infinite value not allowed in vector', 'an infinite component is refused'
);
select throws_ok(
  'select * from public.match_sessions((select minus_infinity_text from probe)::extensions.vector)',
  '22000', 'infinite value not allowed in vector', 'a negative infinite component is refused'
);
select throws_ok(
  $$select * from public.match_sessions(
      (array['NaN'::double precision] || array_fill(0::double precision, array[1535]))
        ::extensions.vector)$$,
  '22000', 'NaN not allowed in vector', 'a NaN from a float array is refused too'
);
select throws_ok(
  'select * from public.match_sessions((select overflowing_text from probe)::extensions.vector)',
  '22003', '"1e39" is out of range for type vector', 'a component beyond float4 is refused'
);
select throws_ok(
  'select * from public.match_sessions(null)',
  '22004', 'query_embedding must not be null', 'a missing query embedding is refused'
);

-- Search: match_count and min_similarity.
select throws_ok(
  'select * from public.match_sessions(tests.planar_embedding(0), 0)',
  '22023', 'match_count must be between 1 and 100, not 0', 'match_count 0 is refused'
);
select throws_ok(
  'select * from public.match_sessions(tests.planar_embedding(0), -5)',
  '22023', 'match_count must be between 1 and 100, not -5', 'a negative match_count is refused'
);
select throws_ok(
  'select * from public.match_sessions(tests.planar_embedding(0), 101)',
  '22023', 'match_count must be between 1 and 100, not 101', 'match_count above 100 is refused'
);
select throws_ok(
  'select * from public.match_sessions(tests.planar_embedding(0), null)',
  '22004', 'match_count must not be null', 'a missing match_count is refused'
);
select throws_ok(
  'select * from public.match_sessions(tests.planar_embedding(0), 10, 1.5)',
  '22023', 'min_similarity must be between -1 and 1, not 1.5', 'min_similarity above 1 is refused'
);
select throws_ok(
  'select * from public.match_sessions(tests.planar_embedding(0), 10, -1.01)',
  '22023', 'min_similarity must be between -1 and 1, not -1.01',
  'min_similarity below -1 is refused'
);
select throws_ok(
  $$select * from public.match_sessions(tests.planar_embedding(0), 10, 'NaN')$$,
  '22023', 'min_similarity must be between -1 and 1, not NaN', 'a NaN min_similarity is refused'
);
select throws_ok(
  'select * from public.match_sessions(tests.planar_embedding(0), 10, null)',
  '22004', 'min_similarity must not be null', 'a missing min_similarity is refused'
);
select results_eq(
  'select count(*)::integer from public.match_sessions(tests.planar_embedding(0), 100, 1)',
  array[1],
  'the bounds themselves are accepted'
);

-- Stored embeddings.
select throws_ok(
  $$insert into public.session_embeddings (session_id, embedding, model, ir_version)
    values (tests.get_session_id('unembedded spec'), (select three_dimensions from probe), 'm', 1)$$,
  '22000', 'expected 1536 dimensions, not 3', 'an embedding of the wrong dimension is refused'
);
select throws_ok(
  $$insert into public.session_embeddings (session_id, embedding, model, ir_version)
    values (tests.get_session_id('unembedded spec'), (select zero from probe), 'm', 1)$$,
  '23514',
  'new row for relation "session_embeddings" violates check constraint "session_embeddings_embedding_not_zero"',
  'a zero embedding is refused'
);
select throws_ok(
  $$insert into public.session_embeddings (session_id, embedding, model, ir_version)
    values (tests.get_session_id('unembedded spec'),
            (select nan_text from probe)::extensions.vector, 'm', 1)$$,
  '22000', 'NaN not allowed in vector', 'an embedding with a NaN component is refused'
);
select throws_ok(
  $$update public.session_embeddings set embedding = (select zero from probe)
     where session_id = tests.get_session_id('embedded spec')$$,
  '23514',
  'new row for relation "session_embeddings" violates check constraint "session_embeddings_embedding_not_zero"',
  'an embedding cannot be zeroed'
);
select throws_ok(
  $$insert into public.session_embeddings (session_id, embedding, model, ir_version)
    values (tests.get_session_id('unembedded spec'), tests.planar_embedding(0), null, 1)$$,
  '23502',
  'null value in column "model" of relation "session_embeddings" violates not-null constraint',
  'an embedding must name its model'
);
select throws_ok(
  $$insert into public.session_embeddings (session_id, embedding, model, ir_version)
    values (tests.get_session_id('unembedded spec'), tests.planar_embedding(0), E' \t', 1)$$,
  '23514',
  'new row for relation "session_embeddings" violates check constraint "session_embeddings_model_not_blank"',
  'a blank model name is refused'
);
select throws_ok(
  $$insert into public.session_embeddings (session_id, embedding, model, ir_version)
    values (tests.get_session_id('unembedded spec'), tests.planar_embedding(0), repeat('m', 201), 1)$$,
  '23514',
  'new row for relation "session_embeddings" violates check constraint "session_embeddings_model_length"',
  'a model name over 200 characters is refused'
);
select throws_ok(
  $$insert into public.session_embeddings (session_id, embedding, model, ir_version)
    values (tests.get_session_id('unembedded spec'), tests.planar_embedding(0), 'm', null)$$,
  '23502',
  'null value in column "ir_version" of relation "session_embeddings" violates not-null constraint',
  'an embedding must name its IR version'
);
select throws_ok(
  $$insert into public.session_embeddings (session_id, embedding, model, ir_version)
    values (tests.get_session_id('unembedded spec'), tests.planar_embedding(0), 'm', 0)$$,
  'PT404', format('session %s has no ir version 0', tests.get_session_id('unembedded spec')),
  'IR version 0 (no IR) cannot be embedded'
);
select throws_ok(
  $$insert into public.session_embeddings (session_id, embedding, model, ir_version)
    values (tests.get_session_id('unembedded spec'), tests.planar_embedding(0), 'm', 2)$$,
  'PT404', format('session %s has no ir version 2', tests.get_session_id('unembedded spec')),
  'an IR version from the future is refused'
);
select throws_ok(
  $$insert into public.session_embeddings (session_id, embedding, model, ir_version)
    values (tests.get_session_id('spec without ir'), tests.planar_embedding(0), 'm', 1)$$,
  'PT404', format('session %s has no ir version 1', tests.get_session_id('spec without ir')),
  'a session without an IR has nothing to embed'
);
select throws_ok(
  $$insert into public.session_embeddings (session_id, embedding, model, ir_version)
    values ('00000000-0000-4000-8000-000000000000', tests.planar_embedding(0), 'm', 1)$$,
  'PT404', 'session 00000000-0000-4000-8000-000000000000 not found',
  'an unknown session is named'
);
select throws_ok(
  $$insert into public.session_embeddings (session_id, embedding, model, ir_version)
    values (null, tests.planar_embedding(0), 'm', 1)$$,
  '22004', 'session_id must not be null', 'an embedding must name its session'
);
select throws_ok(
  $$insert into public.session_embeddings (session_id, embedding, model, ir_version)
    values (tests.get_session_id('embedded spec'), tests.planar_embedding(9), 'm', 1)$$,
  '23505',
  'duplicate key value violates unique constraint "session_embeddings_pkey"',
  'a session has one embedding: a second insert is refused (upsert to replace it)'
);
select throws_ok(
  $$update public.session_embeddings set ir_version = 0
     where session_id = tests.get_session_id('embedded spec')$$,
  'PT409',
  format('embedding version conflict on session %s: it was computed from ir version 1, '
         'newer than version 0', tests.get_session_id('embedded spec')),
  'an embedding cannot move back to IR version 0'
);

select tests.clear_authentication();
select is(pg_temp.digest(), current_setting('test.digest'),
          'none of the bad input changed Alice''s sessions, history or embeddings');
select results_eq(
  $$select session_id from public.session_embeddings as e
     where e.session_id in (select s.id from public.sessions as s
                             where s.user_id = tests.get_supabase_uid('alice'))$$,
  $$values (tests.get_session_id('embedded spec'))$$,
  'Alice still has exactly the one embedding she had'
);

select * from finish();
rollback;
