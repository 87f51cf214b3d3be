-- public.sessions: columns, defaults, checks, indexes, grants, policies and triggers.
begin;
select plan(46);

select has_table('public', 'sessions', 'public.sessions exists');
select columns_are(
  'public', 'sessions',
  array['id', 'user_id', 'prompt', 'status', 'ir_version', 'current_ir', 'metadata', 'created_at',
        'updated_at'],
  'public.sessions has exactly the session columns'
);
select col_type_is('public', 'sessions', 'id', 'uuid', 'sessions.id is a uuid');
select col_type_is('public', 'sessions', 'user_id', 'uuid', 'sessions.user_id is a uuid');
select col_type_is('public', 'sessions', 'prompt', 'text', 'sessions.prompt is text');
select col_type_is('public', 'sessions', 'status', 'text', 'sessions.status is text');
select col_type_is('public', 'sessions', 'ir_version', 'integer', 'sessions.ir_version is an integer');
select col_type_is('public', 'sessions', 'current_ir', 'jsonb', 'sessions.current_ir is jsonb');
select col_type_is('public', 'sessions', 'metadata', 'jsonb', 'sessions.metadata is jsonb');
select col_type_is('public', 'sessions', 'updated_at', 'timestamp with time zone',
                   'sessions.updated_at is a timestamptz');
select col_not_null('public', 'sessions', 'user_id', 'every session has an owner');
select col_not_null('public', 'sessions', 'prompt', 'every session has a prompt');
select col_not_null('public', 'sessions', 'status', 'every session has a status');
select col_not_null('public', 'sessions', 'ir_version', 'ir_version is never null');
select col_not_null('public', 'sessions', 'metadata', 'metadata is never null');
select col_is_null('public', 'sessions', 'current_ir', 'a new session may have no IR yet');
select col_default_is('public', 'sessions', 'user_id', 'auth.uid()', 'user_id defaults to the caller');
select col_default_is('public', 'sessions', 'status', 'active', 'status defaults to active');
select col_default_is('public', 'sessions', 'ir_version', 0, 'ir_version starts at 0');
select col_default_is('public', 'sessions', 'metadata', '{}'::jsonb, 'metadata defaults to {}');

select col_is_pk('public', 'sessions', 'id', 'sessions.id is the primary key');
select fk_ok('public', 'sessions', 'user_id', 'public', 'users', 'id',
             'sessions.user_id references public.users');
select is(
  (select c.confdeltype from pg_catalog.pg_constraint as c
    where c.conrelid = 'public.sessions'::regclass and c.contype = 'f'),
  'c'::"char",
  'deleting a user deletes their sessions'
);
select bag_eq(
  $$select c.conname::text from pg_catalog.pg_constraint as c
     where c.conrelid = 'public.sessions'::regclass and c.contype = 'c'$$,
  array['sessions_status_valid', 'sessions_prompt_not_blank', 'sessions_prompt_length',
        'sessions_ir_version_not_negative', 'sessions_current_ir_object',
        'sessions_metadata_object'],
  'sessions checks status, prompt, ir_version, current_ir and metadata (shape; size and depth: '
  'private.column_limits)'
);

select indexes_are(
  'public', 'sessions',
  array['sessions_pkey', 'sessions_user_id_status_created_at_idx', 'sessions_user_id_created_at_idx',
        'sessions_status_idx', 'sessions_created_at_idx'],
  'public.sessions has its key, policy and listing indexes'
);
select has_index('public', 'sessions', 'sessions_user_id_status_created_at_idx',
                 array['user_id', 'status', 'created_at'],
                 'a user''s sessions by status, newest first, come from one index');
select has_index('public', 'sessions', 'sessions_user_id_created_at_idx',
                 array['user_id', 'created_at'], 'a user''s sessions newest first come from one index');

select ok((select c.relrowsecurity from pg_catalog.pg_class as c
            where c.oid = 'public.sessions'::regclass), 'RLS is enabled on public.sessions');
select policies_are(
  'public', 'sessions',
  array['sessions_select_own_or_shared', 'sessions_insert_own', 'sessions_update_own_or_editor',
        'sessions_delete_own'],
  'public.sessions has one policy per action'
);
select policy_cmd_is('public', 'sessions', 'sessions_select_own_or_shared', 'select',
                     'select policy');
select policy_cmd_is('public', 'sessions', 'sessions_insert_own', 'insert', 'insert policy');
select policy_cmd_is('public', 'sessions', 'sessions_update_own_or_editor', 'update',
                     'update policy');
select policy_cmd_is('public', 'sessions', 'sessions_delete_own', 'delete', 'delete policy');
select is(
  -- sqlfluff takes the unnest alias r for a column of p, so RF03 calls p.schemaname inconsistent.
  (select array_agg(distinct r order by r) from pg_catalog.pg_policies as p, unnest(p.roles) as r
    where p.schemaname = 'public' and p.tablename = 'sessions'), -- noqa: RF03
  array['authenticated']::name[],
  'every sessions policy applies to authenticated only'
);

select table_privs_are('public', 'sessions', 'anon', array[]::text[],
                       'anon has no privilege on sessions');
select table_privs_are('public', 'sessions', 'authenticated', array['SELECT'],
                       'authenticated selects whole rows; writes by column, deletes by function');
select column_privs_are('public', 'sessions', 'id', 'authenticated', array['SELECT'],
                        'the database generates session ids');
select column_privs_are('public', 'sessions', 'current_ir', 'authenticated',
                        array['SELECT', 'INSERT', 'UPDATE'], 'authenticated may write current_ir');
select column_privs_are('public', 'sessions', 'user_id', 'authenticated', array['SELECT', 'INSERT'],
                        'authenticated may name the owner on insert but never change it');
select column_privs_are('public', 'sessions', 'ir_version', 'authenticated', array['SELECT'],
                        'authenticated may only read ir_version');
select column_privs_are('public', 'sessions', 'updated_at', 'authenticated', array['SELECT'],
                        'authenticated may only read updated_at');
select table_privs_are('public', 'sessions', 'service_role',
                       array['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
                       'service_role may read and write sessions, not truncate');

select triggers_are(
  'public', 'sessions',
  array['sessions_check_limits', 'sessions_guard_columns', 'sessions_guard_shared_edits',
        'sessions_version_ir', 'sessions_record_history'],
  'sessions has the size caps, the column guards and the IR history triggers'
);
select trigger_is('public', 'sessions', 'sessions_guard_columns', 'private', 'guard_session_columns',
                  'the column guard runs private.guard_session_columns');
select isnt_definer('private', 'guard_session_columns', array[]::name[],
                    'the column guard runs as the caller');
select is(
  -- sqlfluff reads the collation "C" as a column reference (RF03); it is not one.
  (select array_agg(t.tgname::text order by t.tgname collate "C") -- noqa: RF03
     from pg_catalog.pg_trigger as t
    where t.tgrelid = 'public.sessions'::regclass and not t.tgisinternal and t.tgtype & 2 = 2),
  array['sessions_check_limits', 'sessions_guard_columns', 'sessions_guard_shared_edits',
        'sessions_version_ir'],
  'BEFORE triggers fire in name order: the size caps, the column guards, then versioning'
);

select * from finish();
rollback;
