-- The scene builders and digests of 001_setup_fixtures.sql do what their doc blocks say. Alice
-- and Bob are test users; the builders run while a stranger (Bob, or anon) is acting, as tests
-- use them, and the digests move exactly when what they cover moves.
begin;
select plan(31);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob');

-- tests.create_session, whoever is acting
select tests.authenticate_as_anon();
select set_config('test.probe', tests.create_session('alice', 'helper probe prompt')::text, true);
select tests.create_session('alice', 'probe with an IR', '{"v": 1}', 'finalized');
select tests.clear_authentication();
select is(
  (select s.user_id from public.sessions as s where s.prompt = 'helper probe prompt'),
  tests.get_supabase_uid('alice'),
  'create_session makes a session owned by the named user'
);
select results_eq(
  $$select status, ir_version, current_ir from public.sessions where prompt = 'helper probe prompt'$$,
  $$values ('active', 0, null::jsonb)$$,
  'by default it is active and has no IR yet'
);
select results_eq(
  $$select s.status, s.ir_version, s.current_ir, h.version, h.ir_snapshot
      from public.sessions as s join public.session_history as h on h.session_id = s.id
     where s.prompt = 'probe with an IR'$$,
  $$values ('finalized', 1, '{"v": 1}'::jsonb, 1, '{"v": 1}'::jsonb)$$,
  'an IR and a status can be given: the IR is version 1, recorded in the history'
);
select throws_ok($$select tests.create_session('nobody_by_that_name')$$, 'P0001',
                 'tests.create_session: no test user nobody_by_that_name',
                 'a session for a user who does not exist is refused, by name');

-- tests.get_session_id
select tests.authenticate_as('bob');
select is_empty($$select from public.sessions where prompt = 'helper probe prompt'$$,
                'Bob cannot see Alice''s session...');
select is(tests.get_session_id('helper probe prompt'), current_setting('test.probe')::uuid,
          '...and get_session_id names it all the same');
select tests.clear_authentication();
select is(tests.get_session_id('helper probe prompt'), current_setting('test.probe')::uuid,
          'get_session_id finds the session create_session returned, by its prompt');
select is(tests.get_session_id('no session has this prompt'), null,
          'get_session_id is null for a prompt no session has');

-- tests.user_data_digest: sessions and history of one user, whoever is acting
select set_config('test.alice', tests.user_data_digest('alice'), true);
select tests.authenticate_as_anon();
select is(tests.user_data_digest('alice'), current_setting('test.alice'),
          'user_data_digest is the same whoever is acting');
select tests.clear_authentication();
select tests.create_session('bob', 'bob probe', '{"b": 1}');
select is(tests.user_data_digest('alice'), current_setting('test.alice'),
          'another user''s data does not move it');
update public.sessions set metadata = '{"tag": "x"}' where prompt = 'helper probe prompt';
select isnt(tests.user_data_digest('alice'), current_setting('test.alice'),
            'a change to a column of one of the user''s sessions moves it');
select set_config('test.alice', tests.user_data_digest('alice'), true);
select tests.authenticate_as('alice');
select public.update_session_ir(tests.get_session_id('probe with an IR'), '{"v": 2}', 1);
select tests.clear_authentication();
select isnt(tests.user_data_digest('alice'), current_setting('test.alice'),
            'a new IR version moves it');
select set_config('test.alice', tests.user_data_digest('alice'), true);
-- History is append-only; as its owner the test sets the guard aside to change one old row alone.
alter table public.session_history disable trigger user;
update public.session_history set change_description = 'rewritten behind the API'
 where session_id = tests.get_session_id('probe with an IR') and version = 1;
alter table public.session_history enable trigger user;
select isnt(tests.user_data_digest('alice'), current_setting('test.alice'),
            'a change to an old history row moves it');
select is(tests.user_data_digest('nobody_by_that_name'), md5('[][]'),
          'a user without sessions has the digest of nothing');

-- tests.embedding_dimensions and tests.planar_embedding
select is(tests.embedding_dimensions(),
          (select atttypmod from pg_catalog.pg_attribute
            where attrelid = 'public.session_embeddings'::regclass and attname = 'embedding'),
          'embedding_dimensions reads the embedding column''s declared dimension');
select is(extensions.vector_dims(tests.planar_embedding(30)), 1536,
          'planar embeddings have the embedding column''s dimension');
select ok(
  abs((1 - (tests.planar_embedding(10) operator (extensions.<=>) tests.planar_embedding(70)))
      - 0.5) < 1e-6,
  'planar embeddings 60 degrees apart have cosine similarity 0.5'
);
select ok(abs(extensions.vector_norm(tests.planar_embedding(123)) - 1) < 1e-6,
          'a planar embedding has length 1');
select ok(
  abs((1 - (tests.planar_embedding(-40) operator (extensions.<=>) tests.planar_embedding(140)))
      + 1) < 1e-6,
  'planar embeddings 180 degrees apart have cosine similarity -1'
);

-- tests.embed_session, whoever is acting
select tests.authenticate_as('bob');
select tests.embed_session('probe with an IR', tests.planar_embedding(0));
select tests.clear_authentication();
select results_eq(
  $$select e.ir_version, e.model, e.embedding = tests.planar_embedding(0)
      from public.session_embeddings as e where e.session_id = tests.get_session_id('probe with an IR')$$,
  $$values (2, 'test-embedding-model', true)$$,
  'embed_session stores the embedding of the session''s current IR version, even while Bob acts'
);
select tests.embed_session('probe with an IR', tests.planar_embedding(90), 'another-model');
select results_eq(
  $$select e.model, e.embedding = tests.planar_embedding(90)
      from public.session_embeddings as e where e.session_id = tests.get_session_id('probe with an IR')$$,
  $$values ('another-model', true)$$,
  'embedding it again replaces the embedding and the model'
);

-- tests.share_session, whoever is acting
select tests.authenticate_as('bob');
select tests.share_session(tests.get_session_id('helper probe prompt'), 'bob');
select tests.clear_authentication();
select tests.create_supabase_user('carol');
select tests.share_session(tests.get_session_id('helper probe prompt'), 'carol', 'editor');
select set_eq(
  $$select user_id, role from public.session_shares
     where session_id = tests.get_session_id('helper probe prompt')$$,
  $$values (tests.get_supabase_uid('bob'), 'viewer'), (tests.get_supabase_uid('carol'), 'editor')$$,
  'share_session shares as viewer by default, or in the role given'
);
select tests.authenticate_as('bob');
select isnt_empty($$select from public.sessions where prompt = 'helper probe prompt'$$,
                  'the share is real: Bob now reads Alice''s session');
select tests.clear_authentication();
select throws_ok(
  $$select tests.share_session(tests.get_session_id('helper probe prompt'), 'nobody_by_that_name')$$,
  'P0001', 'tests.share_session: no test user nobody_by_that_name',
  'sharing with a user who does not exist is refused, by name'
);

-- tests.collaboration_digest: shares, comments and events of one session, whoever is acting
select set_config('test.collab', tests.collaboration_digest(tests.get_session_id('helper probe prompt')), true);
select tests.authenticate_as_anon();
select is(tests.collaboration_digest(tests.get_session_id('helper probe prompt')), current_setting('test.collab'),
          'collaboration_digest is the same whoever is acting');
select tests.authenticate_as('alice');
insert into public.comments (session_id, body) values (tests.get_session_id('probe with an IR'), 'on another session');
select tests.clear_authentication();
select is(tests.collaboration_digest(tests.get_session_id('helper probe prompt')), current_setting('test.collab'),
          'a comment on another session does not move it');
select tests.authenticate_as('bob');
insert into public.comments (session_id, body) values (tests.get_session_id('helper probe prompt'), 'a comment');
select tests.clear_authentication();
select isnt(tests.collaboration_digest(tests.get_session_id('helper probe prompt')), current_setting('test.collab'),
            'a comment moves it');
select set_config('test.collab', tests.collaboration_digest(tests.get_session_id('helper probe prompt')), true);
update public.session_shares set role = 'editor'
 where session_id = tests.get_session_id('helper probe prompt') and user_id = tests.get_supabase_uid('bob');
select isnt(tests.collaboration_digest(tests.get_session_id('helper probe prompt')), current_setting('test.collab'),
            'a change of a share''s role moves it');
select set_config('test.collab', tests.collaboration_digest(tests.get_session_id('helper probe prompt')), true);
select tests.authenticate_as('alice');
insert into public.analytics_events (session_id, event_type)
values (tests.get_session_id('helper probe prompt'), 'ir_generated');
select tests.clear_authentication();
select isnt(tests.collaboration_digest(tests.get_session_id('helper probe prompt')), current_setting('test.collab'),
            'an analytics event moves it');

-- tests.row_count: as the acting role sees the relation
select is(tests.row_count('public.sessions'), (select count(*) from public.sessions),
          'row_count counts the rows of the relation named');
select tests.authenticate_as('alice');
select is(tests.row_count('public.sessions'), 2::bigint,
          'row_count counts what the acting role sees: Alice sees her two sessions, not Bob''s');
select tests.clear_authentication();

select * from finish();
rollback;
