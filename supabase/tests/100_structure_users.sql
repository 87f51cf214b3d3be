-- public.users: the profile Auth's triggers create, its keys, grants and policies.
begin;
select plan(35);

select has_table('public', 'users', 'public.users exists');
select columns_are(
  'public', 'users',
  array['id', 'email', 'provider', 'provider_user_id', 'display_name', 'created_at',
        'last_login_at'],
  'public.users has exactly the profile columns'
);
select col_type_is('public', 'users', 'id', 'uuid', 'users.id is a uuid');
select col_type_is('public', 'users', 'email', 'text', 'users.email is text');
select col_type_is('public', 'users', 'provider', 'text', 'users.provider is text');
select col_type_is('public', 'users', 'provider_user_id', 'text', 'users.provider_user_id is text');
select col_type_is('public', 'users', 'created_at', 'timestamp with time zone',
                   'users.created_at is a timestamptz');
select col_type_is('public', 'users', 'last_login_at', 'timestamp with time zone',
                   'users.last_login_at is a timestamptz');
select col_not_null('public', 'users', 'provider', 'users.provider is required');
select col_not_null('public', 'users', 'provider_user_id', 'users.provider_user_id is required');
select col_not_null('public', 'users', 'created_at', 'users.created_at is required');
select col_is_null('public', 'users', 'email', 'users.email may be null (phone and anonymous users)');
select col_is_null('public', 'users', 'last_login_at', 'users.last_login_at is null until a sign-in');

select col_is_pk('public', 'users', 'id', 'users.id is the primary key');
select fk_ok('public', 'users', 'id', 'auth', 'users', 'id', 'users.id references auth.users');
select is(
  (select c.confdeltype from pg_catalog.pg_constraint as c
    where c.conrelid = 'public.users'::regclass and c.contype = 'f'),
  'c'::"char",
  'deleting the auth user deletes the profile'
);
select col_is_unique('public', 'users', array['provider', 'provider_user_id'],
                     'provider_user_id is unique per provider');
select indexes_are('public', 'users', array['users_pkey', 'users_provider_user_id_key'],
                   'public.users has only its key indexes');

select ok((select c.relrowsecurity from pg_catalog.pg_class as c
            where c.oid = 'public.users'::regclass), 'RLS is enabled on public.users');
select policies_are('public', 'users', array['users_select_own', 'users_update_own'],
                    'public.users has a select and an update policy, nothing else');
select policy_cmd_is('public', 'users', 'users_select_own', 'select', 'users_select_own is for select');
select policy_cmd_is('public', 'users', 'users_update_own', 'update', 'users_update_own is for update');
select policy_roles_are('public', 'users', 'users_select_own', array['authenticated'],
                        'users_select_own applies to authenticated only');
select policy_roles_are('public', 'users', 'users_update_own', array['authenticated'],
                        'users_update_own applies to authenticated only');

select table_privs_are('public', 'users', 'anon', array[]::text[], 'anon has no privilege on users');
select table_privs_are('public', 'users', 'authenticated', array['SELECT'],
                       'authenticated may only select users at table level');
select column_privs_are('public', 'users', 'display_name', 'authenticated', array['SELECT', 'UPDATE'],
                        'authenticated may update display_name');
select table_privs_are('public', 'users', 'service_role',
                       array['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
                       'service_role may read and write users, not truncate');

select trigger_is('auth', 'users', 'on_auth_user_created', 'private', 'create_user_profile',
                  'a new auth user gets a profile');
select trigger_is('auth', 'users', 'on_auth_user_updated', 'private', 'sync_user_profile',
                  'auth user changes reach the profile');
select trigger_is('auth', 'identities', 'on_auth_identity_created', 'private',
                  'record_provider_user_id', 'a new identity records the provider user id');
select is_definer('private', 'create_user_profile', array[]::name[],
                  'create_user_profile runs as its owner');
select is_definer('private', 'sync_user_profile', array[]::name[],
                  'sync_user_profile runs as its owner');
select is_definer('private', 'record_provider_user_id', array[]::name[],
                  'record_provider_user_id runs as its owner');
select function_privs_are('private', 'create_user_profile', array[]::name[], 'authenticated',
                          array[]::text[], 'authenticated cannot execute create_user_profile');

select * from finish();
rollback;
