-- The copy of an embedding's owner (session_embeddings.owner_id) chooses, with the caller's own
-- shares, the rows public.match_sessions ranks. Attacks on it, as a signed-in user who may run
-- any SQL: write the column directly, through ON CONFLICT, through service_role's full grants,
-- through the trigger function, or behind temp tables that shadow the ones the trigger and the
-- policy read. None may change it. And a grantee reading a shared embedding learns nothing of
-- the session's other grantees, which session_shares hides from them.
begin;
select plan(16);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('mallory');
select tests.create_supabase_user('bob');
select tests.create_supabase_user('carol');
select tests.create_session('alice', 'alice secret', '{"spec": "a1"}');
select tests.create_session('alice', 'alice shared', '{"spec": "a2"}');
select tests.create_session('mallory', 'mallory own', '{"spec": "m1"}');
select tests.embed_session('alice secret', tests.planar_embedding(0));
select tests.embed_session('alice shared', tests.planar_embedding(2));
select tests.share_session(tests.get_session_id('alice shared'), 'bob', 'viewer');
select tests.share_session(tests.get_session_id('alice shared'), 'carol', 'viewer');

select tests.authenticate_as('mallory');
select throws_ok(
  $$insert into public.session_embeddings (session_id, embedding, model, ir_version, owner_id)
    values (tests.get_session_id('mallory own'), tests.planar_embedding(0), 'm', 1,
            tests.get_supabase_uid('alice'))$$,
  '42501', 'permission denied for table session_embeddings',
  'a user cannot name the owner of an embedding'
);
select lives_ok(
  $$insert into public.session_embeddings (session_id, embedding, model, ir_version)
    values (tests.get_session_id('mallory own'), tests.planar_embedding(1), 'm', 1)$$,
  'Mallory embeds her own session'
);
select throws_ok(
  $$insert into public.session_embeddings (session_id, embedding, model, ir_version)
    values (tests.get_session_id('mallory own'), tests.planar_embedding(1), 'm', 1)
    on conflict (session_id) do update set owner_id = tests.get_supabase_uid('alice')$$,
  '42501', 'permission denied for table session_embeddings',
  'ON CONFLICT cannot write the owner either'
);
select throws_ok(
  $$update public.session_embeddings set owner_id = tests.get_supabase_uid('mallory')$$,
  '42501', 'permission denied for table session_embeddings',
  'nor can an update'
);
select throws_ok(
  $$select private.copy_session_embedding_owner()$$,
  '42501', 'permission denied for schema private',
  'the trigger function cannot be called'
);

-- Temp tables named like the ones the trigger and the policy read: both qualify every name.
create temporary table sessions (id uuid, user_id uuid);
create temporary table session_shares (session_id uuid, user_id uuid, role text);
insert into pg_temp.sessions values (tests.get_session_id('mallory own'), tests.get_supabase_uid('alice'));
insert into pg_temp.session_shares
values (tests.get_session_id('alice secret'), tests.get_supabase_uid('mallory'), 'viewer');
select lives_ok(
  $$update public.session_embeddings set model = 'm2'
     where session_id = tests.get_session_id('mallory own')$$,
  'Mallory re-embeds behind her temp tables'
);
select tests.clear_authentication();
select results_eq(
  $$select owner_id from public.session_embeddings
     where session_id = tests.get_session_id('mallory own')$$,
  $$values (tests.get_supabase_uid('mallory'))$$,
  'the copy still names Mallory as owner'
);
select results_eq(
  $$select owner_id from public.session_embeddings
     where session_id = tests.get_session_id('alice secret')$$,
  $$values (tests.get_supabase_uid('alice'))$$,
  'and Alice as the owner of her embedding'
);

-- service_role may write every column: the trigger rewrites the copy anyway.
select tests.authenticate_as_service_role();
select lives_ok(
  $$update public.session_embeddings
       set owner_id = tests.get_supabase_uid('mallory')
     where session_id = tests.get_session_id('alice secret')$$,
  'service_role writes a forged owner'
);
select results_eq(
  $$select owner_id from public.session_embeddings
     where session_id = tests.get_session_id('alice secret')$$,
  $$values (tests.get_supabase_uid('alice'))$$,
  'the trigger puts back the session''s owner'
);

-- After every attempt, Alice's session is still hers alone.
select tests.authenticate_as('mallory');
select results_eq(
  'select session_id from public.match_sessions(tests.planar_embedding(0), 10)',
  $$values (tests.get_session_id('mallory own'))$$,
  'Mallory, searching right at Alice''s embedding, finds only her own session'
);
select is_empty(
  $$select from public.session_embeddings where session_id = tests.get_session_id('alice secret')$$,
  'and cannot read Alice''s embedding, though her temp session_shares claims it'
);

-- A grantee reads the shared embedding, whole, and finds no other grantee in it: the row holds
-- no list of who it is shared with, and the shares show Bob only his own.
select tests.authenticate_as('bob');
select results_eq(
  $$select e.session_id, e.owner_id from public.session_embeddings as e$$,
  $$values (tests.get_session_id('alice shared'), tests.get_supabase_uid('alice'))$$,
  'Bob reads the embedding of the session shared with him, and its owner'
);
select ok(
  (select bool_and(strpos(to_jsonb(e)::text, tests.get_supabase_uid('carol')::text) = 0)
     from public.session_embeddings as e),
  'nothing in the embedding row Bob reads names Carol, its other grantee'
);
select hasnt_column('public', 'session_embeddings', 'reader_ids',
                    'embeddings keep no copy of the session''s grantees');
select results_eq(
  $$select sh.user_id from public.session_shares as sh$$,
  $$values (tests.get_supabase_uid('bob'))$$,
  'and the shares show Bob his own share only'
);

select * from finish();
rollback;
