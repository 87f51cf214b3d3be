-- Who may do what to IR embeddings, and whose sessions a search can return. Alice's two
-- sessions are embedded 30 and 60 degrees from the query; Bob's one session is embedded exactly
-- along it, so it is everyone's nearest neighbour. anon gets nothing; Alice and Bob each find,
-- read and write only their own; Bob's embedding never comes back to Alice, however near;
-- service_role searches and manages every embedding.
begin;
select plan(33);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob');
select tests.create_session('alice', 'alice near', '{"spec": "a1"}');
select tests.create_session('alice', 'alice far', '{"spec": "a2"}');
select tests.create_session('alice', 'alice unembedded', '{"spec": "a3"}');
select tests.create_session('bob', 'bob nearest', '{"spec": "b1"}');
select tests.embed_session('alice near', tests.planar_embedding(30));
select tests.embed_session('alice far', tests.planar_embedding(60));
select tests.embed_session('bob nearest', tests.planar_embedding(0));

-- anon
select tests.authenticate_as_anon();
select throws_ok('select * from public.session_embeddings', '42501',
                 'permission denied for table session_embeddings', 'anon cannot read embeddings');
select throws_ok(
  $$insert into public.session_embeddings (session_id, embedding, model, ir_version)
    values (tests.get_session_id('alice unembedded'), tests.planar_embedding(0), 'm', 1)$$,
  '42501', 'permission denied for table session_embeddings', 'anon cannot insert embeddings'
);
select throws_ok($$update public.session_embeddings set model = 'anon'$$, '42501',
                 'permission denied for table session_embeddings', 'anon cannot update embeddings');
select throws_ok('delete from public.session_embeddings', '42501',
                 'permission denied for table session_embeddings', 'anon cannot delete embeddings');
select throws_ok('select * from public.session_embedding_status', '42501',
                 'permission denied for view session_embedding_status',
                 'anon cannot read embedding status');
select throws_ok($$select * from public.match_sessions(tests.planar_embedding(0))$$, '42501',
                 'permission denied for function match_sessions', 'anon cannot search');

-- Alice
select tests.authenticate_as('alice');
select results_eq(
  $$select session_id, round(similarity::numeric, 6), is_stale
      from public.match_sessions(tests.planar_embedding(0), 10)$$,
  $$values (tests.get_session_id('alice near'), round(cosd(30)::numeric, 6), false),
           (tests.get_session_id('alice far'), round(cosd(60)::numeric, 6), false)$$,
  'Alice finds her own sessions, best first, and never Bob''s, though his is the nearest'
);
select is_empty(
  $$select * from public.match_sessions(tests.planar_embedding(0), 100)
     where session_id = tests.get_session_id('bob nearest')$$,
  'asking for more rows still never reaches Bob''s session'
);
select set_eq('select session_id from public.session_embeddings',
              $$values (tests.get_session_id('alice near')), (tests.get_session_id('alice far'))$$,
              'Alice reads exactly her own embeddings');
select set_eq('select session_id from public.session_embedding_status',
              $$values (tests.get_session_id('alice near')), (tests.get_session_id('alice far'))$$,
              'Alice sees the status of exactly her own embeddings');
select results_eq(
  $$insert into public.session_embeddings (session_id, embedding, model, ir_version)
    values (tests.get_session_id('alice unembedded'), tests.planar_embedding(45), 'm', 1)
    returning model$$,
  $$values ('m')$$,
  'Alice embeds her own session'
);
select results_eq(
  $$update public.session_embeddings set embedding = tests.planar_embedding(20), model = 'm2'
     where session_id = tests.get_session_id('alice far') returning model$$,
  $$values ('m2')$$,
  'Alice re-embeds her own session'
);
select throws_ok(
  $$insert into public.session_embeddings (session_id, embedding, model, ir_version)
    values (tests.get_session_id('bob nearest'), tests.planar_embedding(90), 'm', 1)$$,
  'PT404', format('session %s not found', tests.get_session_id('bob nearest')),
  'Alice cannot embed Bob''s session: for her it does not exist'
);
select is_empty(
  $$update public.session_embeddings set embedding = tests.planar_embedding(90)
     where session_id = tests.get_session_id('bob nearest') returning session_id$$,
  'Alice''s update of Bob''s embedding affects 0 rows'
);
select throws_ok(
  $$select public.delete_session_embedding(tests.get_session_id('bob nearest'))$$,
  'PT404', format('session %s not found', tests.get_session_id('bob nearest')),
  'to Alice, Bob''s session does not exist for delete_session_embedding'
);
select throws_ok(
  $$update public.session_embeddings set session_id = tests.get_session_id('bob nearest')
     where session_id = tests.get_session_id('alice near')$$,
  '42501', 'permission denied for table session_embeddings',
  'Alice cannot move her embedding onto Bob''s session'
);
select throws_ok(
  $$update public.session_embeddings set updated_at = now()
     where session_id = tests.get_session_id('alice near')$$,
  '42501', 'permission denied for table session_embeddings',
  'Alice cannot write the database-owned timestamps'
);
select lives_ok(
  $$select public.delete_session_embedding(tests.get_session_id('alice unembedded'))$$,
  'Alice deletes her own embedding'
);

-- Bob
select tests.authenticate_as('bob');
select results_eq(
  $$select session_id, round(similarity::numeric, 6)
      from public.match_sessions(tests.planar_embedding(30), 10)$$,
  $$values (tests.get_session_id('bob nearest'), round(cosd(30)::numeric, 6))$$,
  'Bob finds only his own session, even searching right at Alice''s'
);
select results_eq('select session_id from public.session_embeddings',
                  $$values (tests.get_session_id('bob nearest'))$$,
                  'Bob reads only his own embedding');
select is_empty(
  $$select * from public.session_embedding_status
     where session_id <> tests.get_session_id('bob nearest')$$,
  'Bob sees the status of no one else''s embedding'
);
select throws_ok(
  $$insert into public.session_embeddings (session_id, embedding, model, ir_version)
    values (tests.get_session_id('alice unembedded'), tests.planar_embedding(0), 'm', 1)$$,
  'PT404', format('session %s not found', tests.get_session_id('alice unembedded')),
  'Bob cannot embed Alice''s session'
);
select is_empty(
  $$update public.session_embeddings set model = 'bob'
     where session_id = tests.get_session_id('alice near') returning session_id$$,
  'Bob''s update of Alice''s embedding affects 0 rows'
);
select throws_ok(
  $$select public.delete_session_embedding(tests.get_session_id('alice near'))$$,
  'PT404', format('session %s not found', tests.get_session_id('alice near')),
  'to Bob, Alice''s session does not exist for delete_session_embedding'
);

-- service_role
-- Its search ranks every embedding in the database, so embeddings other suites leave near the
-- query could fill the ten places: in this transaction (rolled back), only this file's remain.
select tests.clear_authentication();
delete from public.session_embeddings
where session_id not in (
  tests.get_session_id('alice near'), tests.get_session_id('alice far'),
  tests.get_session_id('bob nearest')
);
select tests.authenticate_as_service_role();
select results_eq(
  $$select session_id from public.match_sessions(tests.planar_embedding(0), 10)
     where session_id in (tests.get_session_id('alice near'), tests.get_session_id('alice far'),
                          tests.get_session_id('bob nearest'))$$,
  $$values (tests.get_session_id('bob nearest')), (tests.get_session_id('alice far')),
           (tests.get_session_id('alice near'))$$,
  'service_role searches every user''s sessions'
);
select results_eq(
  $$select count(*)::integer from public.session_embedding_status
     where session_id in (tests.get_session_id('alice near'), tests.get_session_id('alice far'),
                          tests.get_session_id('bob nearest'))$$,
  array[3],
  'service_role sees every embedding''s status'
);
select results_eq(
  $$insert into public.session_embeddings (session_id, embedding, model, ir_version)
    values (tests.get_session_id('alice unembedded'), tests.planar_embedding(80), 'job', 1)
    returning model$$,
  $$values ('job')$$,
  'service_role embeds any user''s session'
);
select throws_ok(
  $$update public.session_embeddings set session_id = tests.get_session_id('bob nearest')
     where session_id = tests.get_session_id('alice near')$$,
  '42501', 'an embedding cannot move to another session',
  'not even service_role moves an embedding to another session'
);
select throws_ok(
  $$update public.session_embeddings set created_at = now() - interval '1 day'
     where session_id = tests.get_session_id('alice near')$$,
  '428C9', 'created_at is maintained by the database',
  'not even service_role rewrites created_at'
);

select tests.clear_authentication();
select results_eq(
  $$select model, embedding = tests.planar_embedding(0) from public.session_embeddings
     where session_id = tests.get_session_id('bob nearest')$$,
  $$values ('test-embedding-model', true)$$,
  'Bob''s embedding is intact after everyone tried'
);
select results_eq(
  $$select model from public.session_embeddings
     where session_id = tests.get_session_id('alice near')$$,
  $$values ('test-embedding-model')$$,
  'Alice''s embedding is intact after Bob tried'
);
select is_empty(
  $$select from public.session_embeddings as e
     where not exists (select from public.sessions as s where s.id = e.session_id)$$,
  'every embedding still belongs to a session'
);
select tests.authenticate_as('alice');
select results_eq(
  $$select session_id from public.match_sessions(tests.planar_embedding(0), 10)$$,
  $$values (tests.get_session_id('alice far')), (tests.get_session_id('alice near')),
           (tests.get_session_id('alice unembedded'))$$,
  'Alice''s searches follow her re-embedding and service_role''s, and still exclude Bob'
);

select * from finish();
rollback;
