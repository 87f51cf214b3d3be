-- An embedding describes the IR version it was computed from. Alice embeds her session's first
-- IR; when the IR moves on (an edit, a rollback) the embedding is visibly stale in the status
-- view and in search results, until she embeds the current IR. Changes that write no IR version
-- leave it fresh. A late write of an older IR's embedding cannot replace a newer one, and an
-- embedding cannot claim an IR version the session never had.
begin;
select plan(16);

select tests.create_supabase_user('alice');
select tests.create_session('alice', 'evolving spec', '{"spec": "v1"}');
select set_config('test.session_id', tests.get_session_id('evolving spec')::text, true);
select tests.authenticate_as('alice');

-- The upsert a client sends (PostgREST: POST with Prefer: resolution=merge-duplicates).
prepare embed (extensions.vector, integer) as
  insert into public.session_embeddings (session_id, embedding, model, ir_version)
  values (tests.get_session_id('evolving spec'), $1, 'test-embedding-model', $2)
  on conflict (session_id) do update
    set embedding = excluded.embedding, model = excluded.model, ir_version = excluded.ir_version
  returning ir_version;

select results_eq('execute embed(tests.planar_embedding(0), 1)', array[1],
                  'Alice embeds IR version 1');
select results_eq(
  'select ir_version, current_ir_version, is_stale from public.session_embedding_status',
  $$values (1, 1, false)$$,
  'an embedding of the current IR is fresh'
);
select results_eq('select is_stale from public.match_sessions(tests.planar_embedding(0), 1)',
                  array[false], 'and search says so');

update public.sessions set status = 'finalized', metadata = '{"holes": []}'
 where prompt = 'evolving spec';
select results_eq('select is_stale from public.session_embedding_status', array[false],
                  'changing status or metadata writes no IR version: still fresh');

select public.update_session_ir(tests.get_session_id('evolving spec'), '{"spec": "v2"}', 1);
select results_eq(
  'select ir_version, current_ir_version, is_stale from public.session_embedding_status',
  $$values (1, 2, true)$$,
  'a new IR version makes the embedding stale'
);
select results_eq(
  'select session_id, is_stale from public.match_sessions(tests.planar_embedding(0), 1)',
  $$values (tests.get_session_id('evolving spec'), true)$$,
  'search still finds the session, and flags the stale embedding'
);

select results_eq('execute embed(tests.planar_embedding(5), 2)', array[2],
                  'Alice embeds IR version 2');
select results_eq('select is_stale from public.session_embedding_status', array[false],
                  'embedding the current IR makes it fresh again');

select throws_ok(
  'execute embed(tests.planar_embedding(0), 1)',
  'PT409',
  format('embedding version conflict on session %s: it was computed from ir version 2, '
         'newer than version 1', tests.get_session_id('evolving spec')),
  'a late write of version 1''s embedding cannot replace version 2''s'
);
select results_eq(
  $$select ir_version, embedding = tests.planar_embedding(5) from public.session_embeddings$$,
  $$values (2, true)$$,
  'the newer embedding is untouched'
);
select results_eq('execute embed(tests.planar_embedding(6), 2)', array[2],
                  'the same version may be embedded again (another model, say)');

select throws_ok(
  'execute embed(tests.planar_embedding(0), 3)',
  'PT404',
  format('session %s has no ir version 3', tests.get_session_id('evolving spec')),
  'an embedding cannot claim an IR version the session does not have yet'
);

select public.rollback_session(tests.get_session_id('evolving spec'), 1);
select results_eq(
  'select ir_version, current_ir_version, is_stale from public.session_embedding_status',
  $$values (2, 3, true)$$,
  'a rollback writes a new version, so the embedding is stale'
);

-- Staleness through direct SQL writes of the IR, as PATCH /sessions sends them.
select results_eq('execute embed(tests.planar_embedding(0), 3)', array[3], 'embedded again');
update public.sessions set current_ir = '{"spec": "v4"}' where prompt = 'evolving spec';
select results_eq('select is_stale from public.session_embedding_status', array[true],
                  'a plain update of current_ir makes it stale too');

select public.delete_session(tests.get_session_id('evolving spec'));
select tests.clear_authentication();
select is_empty(
  $$select * from public.session_embeddings
     where session_id = current_setting('test.session_id')::uuid$$,
  'deleting the session deletes its embedding'
);

select * from finish();
rollback;
