-- public.session_embeddings, its HNSW index, the staleness view and public.match_sessions:
-- columns, the one declared dimension, the index's operator class against the search's
-- distance, grants, policies, triggers and the search's own settings.
begin;
select plan(45);

-- The table.
select has_table('public', 'session_embeddings', 'public.session_embeddings exists');
select columns_are(
  'public', 'session_embeddings',
  array['session_id', 'embedding', 'model', 'ir_version', 'created_at', 'updated_at', 'owner_id'],
  'public.session_embeddings has exactly the embedding columns and the copy of its owner, '
  'no list of grantees'
);
select col_type_is('public', 'session_embeddings', 'embedding', 'extensions', 'vector(1536)',
                   'embeddings are pgvector vectors of the seed''s 1536 dimensions');
select is(tests.embedding_dimensions(), 1536,
          'the column type is where the dimension is declared');
select col_type_is('public', 'session_embeddings', 'ir_version', 'integer',
                   'ir_version has the type of sessions.ir_version');
select col_not_null('public', 'session_embeddings', 'embedding', 'a row always has an embedding');
select col_not_null('public', 'session_embeddings', 'model', 'every embedding names its model');
select col_not_null('public', 'session_embeddings', 'ir_version',
                    'every embedding names the IR version it was computed from');
select col_hasnt_default('public', 'session_embeddings', 'ir_version',
                         'the writer states the IR version; the database does not guess it');
select col_is_pk('public', 'session_embeddings', 'session_id', 'one embedding per session');
select fk_ok('public', 'session_embeddings', 'session_id', 'public', 'sessions', 'id',
             'an embedding belongs to a session');
select is(
  (select c.confdeltype from pg_catalog.pg_constraint as c
    where c.conrelid = 'public.session_embeddings'::regclass and c.contype = 'f'),
  'c'::"char",
  'deleting a session deletes its embedding'
);
select bag_eq(
  $$select c.conname::text from pg_catalog.pg_constraint as c
     where c.conrelid = 'public.session_embeddings'::regclass and c.contype = 'c'$$,
  array['session_embeddings_embedding_not_zero', 'session_embeddings_model_not_blank',
        'session_embeddings_model_length', 'session_embeddings_ir_version_positive'],
  'embeddings check the zero vector, the model name and the IR version'
);

-- The index: HNSW with the operator class whose operator the search orders by.
select indexes_are('public', 'session_embeddings',
                   array['session_embeddings_pkey', 'session_embeddings_embedding_idx',
                         'session_embeddings_owner_id_session_id_idx'],
                   'the primary key, the vector index and the owner''s index');
select index_is_type('public', 'session_embeddings', 'session_embeddings_embedding_idx', 'hnsw',
                     'the vector index is HNSW (sound on an empty table, unlike IVFFlat)');
select is(
  (select opc.opcname::text
     from pg_catalog.pg_index as i
     inner join pg_catalog.pg_opclass as opc on i.indclass[0] = opc.oid
    where i.indexrelid = 'public.session_embeddings_embedding_idx'::regclass),
  'vector_cosine_ops',
  'the vector index uses the cosine operator class'
);
select ok(
  exists (
    select
      from pg_catalog.pg_index as i
      inner join pg_catalog.pg_opclass as opc on i.indclass[0] = opc.oid
      inner join pg_catalog.pg_amop as ao on opc.opcfamily = ao.amopfamily
     where i.indexrelid = 'public.session_embeddings_embedding_idx'::regclass
       and ao.amoppurpose = 'o'
       and ao.amopopr = 'extensions.<=>(extensions.vector, extensions.vector)'::regoperator
  ),
  'the index can order by <=>, the cosine distance match_sessions orders by'
);
select ok(
  (select p.prosrc like '%order by e.embedding operator(extensions.<=>) %'
     from pg_catalog.pg_proc as p
    where p.oid = 'public.match_sessions(extensions.vector, integer, double precision)'::regprocedure),
  'match_sessions orders by that operator'
);
select is(
  (select array_agg(o.opt order by o.opt)
     from pg_catalog.pg_class as c cross join lateral unnest(c.reloptions) as o (opt)
    where c.oid = 'public.session_embeddings_embedding_idx'::regclass),
  array['ef_construction=64', 'm=16'],
  'the index states its build parameters'
);

-- Access.
select ok((select c.relrowsecurity from pg_catalog.pg_class as c
            where c.oid = 'public.session_embeddings'::regclass),
          'RLS is enabled on public.session_embeddings');
select policies_are(
  'public', 'session_embeddings',
  array['session_embeddings_select_readable', 'session_embeddings_insert_own',
        'session_embeddings_update_own', 'session_embeddings_delete_own'],
  'public.session_embeddings has one policy per action'
);
select is(
  (select array_agg(distinct r.role_name order by r.role_name)
     from pg_catalog.pg_policies as p cross join lateral unnest(p.roles) as r (role_name)
    where p.schemaname = 'public' and p.tablename = 'session_embeddings'),
  array['authenticated']::name[],
  'every embeddings policy applies to authenticated only'
);
select ok(
  (select p.qual like '%owner_id = ( SELECT auth.uid()%'
          and p.qual like '%session_id = ANY (ARRAY( SELECT private.shared_session_ids()%'
     from pg_catalog.pg_policies as p
    where p.schemaname = 'public' and p.policyname = 'session_embeddings_select_readable'),
  'reading an embedding is decided by its copy of the session''s owner and the caller''s shares'
);
select table_privs_are('public', 'session_embeddings', 'anon', array[]::text[],
                       'anon has no privilege on embeddings');
select table_privs_are('public', 'session_embeddings', 'authenticated', array['SELECT'],
                       'authenticated reads whole rows, writes by column, deletes by function');
select column_privs_are('public', 'session_embeddings', 'embedding', 'authenticated',
                        array['SELECT', 'INSERT', 'UPDATE'], 'authenticated may write embedding');
select column_privs_are('public', 'session_embeddings', 'session_id', 'authenticated',
                        array['SELECT', 'INSERT'],
                        'authenticated names the session on insert but never moves the embedding');
select column_privs_are('public', 'session_embeddings', 'updated_at', 'authenticated',
                        array['SELECT'], 'authenticated may only read updated_at');
select table_privs_are('public', 'session_embeddings', 'service_role',
                       array['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
                       'service_role may read and write embeddings, not truncate');
select triggers_are('public', 'session_embeddings',
                    array['session_embeddings_check_limits', 'session_embeddings_guard',
                          'session_embeddings_key_belongs_to_caller',
                          'session_embeddings_200_copy_owner'],
                    'embeddings have their size cap, guard, caller-key and owner-copy triggers');
select isnt_definer('private', 'guard_session_embedding', array[]::name[],
                    'the guard runs as the caller, so it sees only the caller''s sessions');

-- The staleness view.
select has_view('public', 'session_embedding_status', 'public.session_embedding_status exists');
select columns_are(
  'public', 'session_embedding_status',
  array['session_id', 'model', 'ir_version', 'current_ir_version', 'is_stale', 'created_at',
        'updated_at'],
  'the view shows both IR versions and is_stale'
);
select ok(
  (select 'security_invoker=true' = any(c.reloptions) from pg_catalog.pg_class as c
    where c.oid = 'public.session_embedding_status'::regclass),
  'the view runs with the caller''s rights, so RLS applies'
);
select table_privs_are('public', 'session_embedding_status', 'anon', array[]::text[],
                       'anon cannot read the view');
select table_privs_are('public', 'session_embedding_status', 'authenticated', array['SELECT'],
                       'authenticated may only read the view');

-- The search function.
select has_function('public', 'match_sessions',
                    array['vector', 'integer', 'double precision'],
                    'public.match_sessions(query_embedding, match_count, min_similarity) exists');
select is(
  pg_catalog.pg_get_function_result(
    'public.match_sessions(extensions.vector, integer, double precision)'::regprocedure),
  'TABLE(session_id uuid, similarity double precision, is_stale boolean)',
  'match_sessions returns session ids, their similarity and staleness'
);
select is(
  (select pg_catalog.pg_get_expr(p.proargdefaults, 0) from pg_catalog.pg_proc as p
    where p.oid = 'public.match_sessions(extensions.vector, integer, double precision)'::regprocedure),
  '10, ''-1''::integer',
  'match_count defaults to 10 and min_similarity to -1 (no threshold)'
);
select isnt_definer('public', 'match_sessions',
                    array['vector', 'integer', 'double precision'],
                    'match_sessions is SECURITY INVOKER, so RLS applies');
select volatility_is('public', 'match_sessions',
                     array['vector', 'integer', 'double precision'], 'stable',
                     'match_sessions writes nothing');
select bag_eq(
  $$select unnest(p.proconfig) from pg_catalog.pg_proc as p
     where p.oid = 'public.match_sessions(extensions.vector, integer, double precision)'::regprocedure$$,
  array['search_path=pg_catalog, pg_temp', 'hnsw.ef_search=100', 'hnsw.iterative_scan=relaxed_order',
        'hnsw.max_scan_tuples=20000', 'plan_cache_mode=force_custom_plan', 'enable_sort=on'],
  'match_sessions fixes its search path, its own bounded iterative-scan settings and the sort '
  'setting its index path turns off'
);
select function_privs_are('public', 'match_sessions',
                          array['vector', 'integer', 'double precision'], 'anon',
                          array[]::text[], 'anon cannot search');
select function_privs_are('public', 'match_sessions',
                          array['vector', 'integer', 'double precision'],
                          'authenticated', array['EXECUTE'], 'signed-in users can search');
select function_privs_are('public', 'match_sessions',
                          array['vector', 'integer', 'double precision'],
                          'service_role', array['EXECUTE'], 'service_role can search');

select * from finish();
rollback;
