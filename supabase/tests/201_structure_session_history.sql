-- public.session_history and the IR functions: keys, grants, policy, triggers, security mode.
begin;
select plan(37);

select has_table('public', 'session_history', 'public.session_history exists');
select columns_are(
  'public', 'session_history',
  array['session_id', 'version', 'ir_snapshot', 'change_description', 'created_at',
        'author_id'],
  'public.session_history has exactly the history columns'
);
select col_type_is('public', 'session_history', 'version', 'integer', 'version is an integer');
select col_type_is('public', 'session_history', 'ir_snapshot', 'jsonb', 'ir_snapshot is jsonb');
select col_not_null('public', 'session_history', 'session_id', 'history belongs to a session');
select col_not_null('public', 'session_history', 'ir_snapshot', 'every version has an IR');
select col_is_null('public', 'session_history', 'change_description', 'a description is optional');
select col_is_pk('public', 'session_history', array['session_id', 'version'],
                 '(session_id, version) is the primary key');
select fk_ok('public', 'session_history', 'session_id', 'public', 'sessions', 'id',
             'history references its session');
select is(
  (select c.confdeltype from pg_catalog.pg_constraint as c
    where c.conrelid = 'public.session_history'::regclass and c.contype = 'f'),
  'c'::"char",
  'deleting a session deletes its history'
);
select indexes_are('public', 'session_history', array['session_history_pkey'],
                   'the primary key is the only index: a session''s history by version');
select has_check('public', 'session_history', 'history has checks');

select ok((select c.relrowsecurity from pg_catalog.pg_class as c
            where c.oid = 'public.session_history'::regclass),
          'RLS is enabled on public.session_history');
select policies_are('public', 'session_history', array['session_history_select_readable'],
                    'session_history has a select policy and no write policy');
select policy_cmd_is('public', 'session_history', 'session_history_select_readable', 'select',
                     'the history policy is for select');
select policy_roles_are('public', 'session_history', 'session_history_select_readable',
                        array['authenticated'], 'the history policy applies to authenticated only');

select table_privs_are('public', 'session_history', 'anon', array[]::text[],
                       'anon has no privilege on session_history');
select table_privs_are('public', 'session_history', 'authenticated', array['SELECT'],
                       'authenticated may only read history');
select table_privs_are('public', 'session_history', 'service_role', array['SELECT'],
                       'service_role may only read history');

select triggers_are('public', 'session_history', array['session_history_append_only'],
                    'history has the append-only trigger');
select trigger_is('public', 'sessions', 'sessions_version_ir', 'private', 'version_session_ir',
                  'versioning runs private.version_session_ir');
select trigger_is('public', 'sessions', 'sessions_record_history', 'private',
                  'record_session_history', 'recording runs private.record_session_history');
select is_definer('private', 'record_session_history', array[]::name[],
                  'the recorder runs as the history table owner');
select isnt_definer('private', 'version_session_ir', array[]::name[],
                    'versioning runs as the caller');
select function_privs_are('private', 'record_session_history', array[]::name[], 'authenticated',
                          array[]::text[], 'authenticated cannot execute the recorder directly');

select function_returns('public', 'update_session_ir', array['uuid', 'jsonb', 'integer', 'text'],
                        'sessions', 'update_session_ir returns the updated session');
select function_returns('public', 'rollback_session', array['uuid', 'integer', 'integer', 'text'],
                        'sessions', 'rollback_session returns the updated session');
select isnt_definer('public', 'update_session_ir', array['uuid', 'jsonb', 'integer', 'text'],
                    'update_session_ir is SECURITY INVOKER, so RLS applies');
select isnt_definer('public', 'rollback_session', array['uuid', 'integer', 'integer', 'text'],
                    'rollback_session is SECURITY INVOKER, so RLS applies');
select function_privs_are('public', 'update_session_ir', array['uuid', 'jsonb', 'integer', 'text'],
                          'anon', array[]::text[], 'anon cannot call update_session_ir');
select function_privs_are('public', 'rollback_session', array['uuid', 'integer', 'integer', 'text'],
                          'anon', array[]::text[], 'anon cannot call rollback_session');
select function_privs_are('public', 'update_session_ir', array['uuid', 'jsonb', 'integer', 'text'],
                          'authenticated', array['EXECUTE'], 'authenticated may call update_session_ir');
select function_privs_are('public', 'rollback_session', array['uuid', 'integer', 'integer', 'text'],
                          'authenticated', array['EXECUTE'], 'authenticated may call rollback_session');
select is(
  (select p.proconfig from pg_catalog.pg_proc as p
    where p.oid = 'public.update_session_ir(uuid, jsonb, integer, text)'::regprocedure),
  array['search_path=pg_catalog, pg_temp'],
  'update_session_ir searches pg_catalog first and pg_temp last'
);
select is(
  (select p.proconfig from pg_catalog.pg_proc as p
    where p.oid = 'public.rollback_session(uuid, integer, integer, text)'::regprocedure),
  array['search_path=pg_catalog, pg_temp'],
  'rollback_session searches pg_catalog first and pg_temp last'
);
select schema_privs_are('private', 'authenticated', array[]::text[],
                        'authenticated has no usage on schema private');
select schema_privs_are('private', 'anon', array[]::text[], 'anon has no usage on schema private');

select * from finish();
rollback;
