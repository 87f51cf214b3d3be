-- The copy of who may read an embedding (session_embeddings.owner_id, reader_ids) chooses the
-- rows public.match_sessions ranks. Attacks on it, as a signed-in user who may run any SQL: write
-- the columns directly, through ON CONFLICT, through service_role's full grants, through the
-- trigger functions, or behind temp tables that shadow the ones the triggers read. The select
-- policy reads the copy, so none may change it.
begin;
select plan(13);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('mallory');
select tests.create_session('alice', 'alice secret', '{"spec": "a1"}');
select tests.create_session('mallory', 'mallory own', '{"spec": "m1"}');
select tests.embed_session('alice secret', tests.planar_embedding(0));

select tests.authenticate_as('mallory');
select throws_ok(
  $$insert into public.session_embeddings (session_id, embedding, model, ir_version, owner_id)
    values (tests.get_session_id('mallory own'), tests.planar_embedding(0), 'm', 1,
            tests.get_supabase_uid('alice'))$$,
  '42501', 'permission denied for table session_embeddings',
  'a user cannot name the owner of an embedding'
);
select throws_ok(
  $$insert into public.session_embeddings (session_id, embedding, model, ir_version, reader_ids)
    values (tests.get_session_id('mallory own'), tests.planar_embedding(0), 'm', 1,
            array[tests.get_supabase_uid('alice')])$$,
  '42501', 'permission denied for table session_embeddings',
  'nor its readers'
);
select lives_ok(
  $$insert into public.session_embeddings (session_id, embedding, model, ir_version)
    values (tests.get_session_id('mallory own'), tests.planar_embedding(1), 'm', 1)$$,
  'Mallory embeds her own session'
);
select throws_ok(
  $$insert into public.session_embeddings (session_id, embedding, model, ir_version)
    values (tests.get_session_id('mallory own'), tests.planar_embedding(1), 'm', 1)
    on conflict (session_id) do update set reader_ids = array[tests.get_supabase_uid('alice')]$$,
  '42501', 'permission denied for table session_embeddings',
  'ON CONFLICT cannot write the readers either'
);
select throws_ok(
  $$update public.session_embeddings set owner_id = tests.get_supabase_uid('mallory')$$,
  '42501', 'permission denied for table session_embeddings',
  'nor can an update'
);
select throws_ok(
  $$select private.sync_session_embedding_readers()$$,
  '42501', 'permission denied for schema private',
  'the trigger functions cannot be called'
);

-- Temp tables named like the ones the triggers read: the triggers qualify every name.
create temporary table sessions (id uuid, user_id uuid);
create temporary table session_shares (session_id uuid, user_id uuid);
insert into pg_temp.sessions values (tests.get_session_id('mallory own'), tests.get_supabase_uid('alice'));
insert into pg_temp.session_shares
values (tests.get_session_id('alice secret'), tests.get_supabase_uid('mallory'));
select lives_ok(
  $$update public.session_embeddings set model = 'm2'
     where session_id = tests.get_session_id('mallory own')$$,
  'Mallory re-embeds behind her temp tables'
);
select tests.clear_authentication();
select results_eq(
  $$select owner_id, reader_ids from public.session_embeddings
     where session_id = tests.get_session_id('mallory own')$$,
  $$values (tests.get_supabase_uid('mallory'), '{}'::uuid[])$$,
  'the copy still names Mallory as owner and nobody as reader'
);
select results_eq(
  $$select reader_ids from public.session_embeddings
     where session_id = tests.get_session_id('alice secret')$$,
  $$values ('{}'::uuid[])$$,
  'and Alice''s embedding still has no reader'
);

-- service_role may write every column: the trigger rewrites the copy anyway.
select tests.authenticate_as_service_role();
select lives_ok(
  $$update public.session_embeddings
       set owner_id = tests.get_supabase_uid('mallory'),
           reader_ids = array[tests.get_supabase_uid('mallory')]
     where session_id = tests.get_session_id('alice secret')$$,
  'service_role writes a forged copy'
);
select results_eq(
  $$select owner_id, reader_ids from public.session_embeddings
     where session_id = tests.get_session_id('alice secret')$$,
  $$values (tests.get_supabase_uid('alice'), '{}'::uuid[])$$,
  'the trigger puts back the session''s owner and readers'
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
  'and cannot read Alice''s embedding'
);

select * from finish();
rollback;
