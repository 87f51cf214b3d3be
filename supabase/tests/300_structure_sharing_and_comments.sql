-- public.session_shares, public.comments and the access helpers: keys, grants, policies,
-- triggers, and the security mode of every function the policies call.
begin;
select plan(42);

select has_table('public', 'session_shares', 'public.session_shares exists');
select columns_are('public', 'session_shares',
                   array['session_id', 'user_id', 'role', 'created_at', 'updated_at'],
                   'public.session_shares has exactly the share columns');
select col_is_pk('public', 'session_shares', array['session_id', 'user_id'],
                 'a user has at most one share of a session');
select fk_ok('public', 'session_shares', 'session_id', 'public', 'sessions', 'id',
             'a share belongs to a session');
select fk_ok('public', 'session_shares', 'user_id', 'public', 'users', 'id',
             'a share names a user');
select is(
  (select array_agg(c.confdeltype::text order by c.conname) from pg_catalog.pg_constraint as c
    where c.conrelid = 'public.session_shares'::regclass and c.contype = 'f'),
  array['c', 'c'],
  'a share goes with its session and with its user'
);
select col_default_is('public', 'session_shares', 'role', 'viewer', 'a share is viewer by default');
select has_index('public', 'session_shares', 'session_shares_user_id_session_id_idx',
                 array['user_id', 'session_id'], 'sessions shared with a user come from one index');
select policies_are('public', 'session_shares',
                    array['session_shares_select_owner_or_grantee', 'session_shares_insert_owner',
                          'session_shares_update_owner',
                          'session_shares_delete_owner_or_grantee'],
                    'public.session_shares has one policy per action');
select table_privs_are('public', 'session_shares', 'anon', array[]::text[],
                       'anon has no privilege on shares');
select table_privs_are('public', 'session_shares', 'authenticated', array['SELECT'],
                       'authenticated reads shares, writes them by column, deletes by function');
select column_privs_are('public', 'session_shares', 'role', 'authenticated',
                        array['SELECT', 'INSERT', 'UPDATE'], 'a share''s role can be changed');
select column_privs_are('public', 'session_shares', 'user_id', 'authenticated',
                        array['SELECT', 'INSERT'], 'a share''s grantee is set once');
select triggers_are('public', 'session_shares',
                    array['session_shares_check', 'session_shares_check_limits',
                          'session_shares_key_belongs_to_caller', 'session_shares_touch_updated_at'],
                    'shares are checked, capped, bound to the caller and stamped by the database');

-- The helpers the policies call.
select is_definer('private', 'owned_session_ids', array[]::name[],
                  'owned_session_ids reads sessions past RLS');
select is_definer('private', 'shared_session_ids', array['text'],
                  'shared_session_ids reads shares past RLS');
select is_definer('private', 'readable_session_ids', array[]::name[],
                  'readable_session_ids reads both past RLS');
select function_privs_are('private', 'readable_session_ids', array[]::name[], 'authenticated',
                          array['EXECUTE'], 'policies may call the helpers as authenticated');
select function_privs_are('private', 'readable_session_ids', array[]::name[], 'anon',
                          array[]::text[], 'anon may not call the helpers');
select function_privs_are('private', 'check_session_share', array[]::name[], 'authenticated',
                          array[]::text[], 'the share check is not callable on its own');
select is(
  (select count(*)::integer from pg_catalog.pg_proc as p
    where p.pronamespace = 'private'::regnamespace
      and p.proname in ('owned_session_ids', 'shared_session_ids', 'readable_session_ids',
                        'check_session_share')
      and p.proconfig = array['search_path=pg_catalog, pg_temp']),
  4,
  'every SECURITY DEFINER helper searches pg_catalog first and pg_temp last'
);
select ok(not has_schema_privilege('authenticated', 'private', 'usage'),
          'authenticated still cannot name anything in schema private');

-- Sessions and history under sharing.
select policy_roles_are('public', 'sessions', 'sessions_select_own_or_shared', array['authenticated'],
                        'the shared select policy applies to authenticated only');
select policy_roles_are('public', 'sessions', 'sessions_update_own_or_editor', array['authenticated'],
                        'the editor update policy applies to authenticated only');
select policies_are('public', 'session_history', array['session_history_select_readable'],
                    'history is read by whoever reads the session, written by nobody');
select trigger_is('public', 'sessions', 'sessions_guard_shared_edits', 'private',
                  'guard_shared_session_edit', 'editors are held to the IR by a trigger');
select isnt_definer('private', 'guard_shared_session_edit', array[]::name[],
                    'the editor guard runs as the caller');

-- Comments
select has_table('public', 'comments', 'public.comments exists');
select columns_are('public', 'comments',
                   array['id', 'session_id', 'version', 'author_id', 'body', 'created_at',
                         'updated_at'],
                   'public.comments has exactly the comment columns');
select fk_ok('public', 'comments', 'session_id', 'public', 'sessions', 'id',
             'a comment belongs to a session');
select fk_ok('public', 'comments', array['session_id', 'version'], 'public', 'session_history',
             array['session_id', 'version'], 'a comment on a version names a version of its session');
select fk_ok('public', 'comments', 'author_id', 'public', 'users', 'id', 'a comment has an author');
select col_is_null('public', 'comments', 'version', 'a comment may be about the whole session');
select col_default_is('public', 'comments', 'author_id', 'auth.uid()',
                      'the author is the caller by default');
select indexes_are('public', 'comments',
                   array['comments_pkey', 'comments_session_id_version_idx', 'comments_author_id_idx'],
                   'comments have their key and one index per foreign key');
select policies_are('public', 'comments',
                    array['comments_select_readable', 'comments_insert_reader',
                          'comments_update_author', 'comments_delete_author_or_owner'],
                    'public.comments has one policy per action');
select table_privs_are('public', 'comments', 'anon', array[]::text[],
                       'anon has no privilege on comments');
select column_privs_are('public', 'comments', 'body', 'authenticated',
                        array['SELECT', 'INSERT', 'UPDATE'], 'only the body of a comment is editable');
select column_privs_are('public', 'comments', 'id', 'authenticated', array['SELECT'],
                        'the database generates comment ids');
select column_privs_are('public', 'comments', 'session_id', 'authenticated',
                        array['SELECT', 'INSERT'], 'a comment''s session is set once');
select triggers_are('public', 'comments',
                    array['comments_check_limits', 'comments_guard_columns',
                          'comments_touch_updated_at'],
                    'comments are capped, guarded and stamped by the database');
select is(
  -- sqlfluff takes the unnest alias r for a column of p, so RF03 calls p.schemaname inconsistent.
  (select array_agg(distinct r order by r) from pg_catalog.pg_policies as p, unnest(p.roles) as r
    where p.schemaname = 'public' and p.tablename in ('session_shares', 'comments')), -- noqa: RF03
  array['authenticated']::name[],
  'every policy of shares and comments applies to authenticated only'
);

select * from finish();
rollback;
