-- public.repositories, public.favourite_repositories and public.user_preferences: keys, foreign
-- keys, grants and policies.
begin;
select plan(31);

select has_table('public', 'repositories', 'public.repositories exists');
select columns_are(
  'public', 'repositories',
  array['id', 'user_id', 'provider', 'owner', 'name', 'default_branch', 'is_private', 'metadata',
        'fetched_at', 'created_at'],
  'public.repositories has exactly the cache columns'
);
select col_is_pk('public', 'repositories', 'id', 'repositories.id is the primary key');
select fk_ok('public', 'repositories', 'user_id', 'public', 'users', 'id',
             'a cached repository belongs to a user');
select col_default_is('public', 'repositories', 'user_id', 'auth.uid()',
                      'a repository is the caller''s by default');
select has_index('public', 'repositories', 'repositories_user_id_provider_owner_name_key',
                 array['user_id', 'provider', 'lower(owner)', 'lower(name)'],
                 'one row per user and repository, names compared case-insensitively');
select index_is_unique('public', 'repositories', 'repositories_user_id_provider_owner_name_key',
                       'that index is unique');
select policies_are('public', 'repositories',
                    array['repositories_select_own', 'repositories_insert_own',
                          'repositories_update_own', 'repositories_delete_own'],
                    'public.repositories has one owner-only policy per action');
select table_privs_are('public', 'repositories', 'anon', array[]::text[],
                       'anon has no privilege on repositories');
select table_privs_are('public', 'repositories', 'authenticated', array['SELECT'],
                       'authenticated selects whole rows; writes by column, deletes by function');
select column_privs_are('public', 'repositories', 'id', 'authenticated', array['SELECT'],
                        'the database generates repository ids');
select column_privs_are('public', 'repositories', 'user_id', 'authenticated',
                        array['SELECT', 'INSERT'], 'the owner of a cached repository is set once');

select has_table('public', 'favourite_repositories', 'public.favourite_repositories exists');
select col_is_pk('public', 'favourite_repositories', array['user_id', 'repository_id'],
                 'a repository is a favourite of a user once');
select fk_ok('public', 'favourite_repositories', array['repository_id', 'user_id'],
             'public', 'repositories', array['id', 'user_id'],
             'a favourite names a repository of the same user');
select is(
  (select c.confdeltype from pg_catalog.pg_constraint as c
    where c.conrelid = 'public.favourite_repositories'::regclass and c.contype = 'f'),
  'c'::"char",
  'evicting a repository removes it from favourites'
);
select policies_are('public', 'favourite_repositories',
                    array['favourite_repositories_select_own', 'favourite_repositories_insert_own',
                          'favourite_repositories_delete_own'],
                    'favourites are read, added and removed by their owner; never updated');
select table_privs_are('public', 'favourite_repositories', 'anon', array[]::text[],
                       'anon has no privilege on favourites');
select table_privs_are('public', 'favourite_repositories', 'authenticated', array['SELECT'],
                       'authenticated reads favourites, adds them by column, removes by function');
select table_privs_are('public', 'favourite_repositories', 'service_role',
                       array['SELECT', 'INSERT', 'DELETE'], 'service_role never updates a favourite');

select has_table('public', 'user_preferences', 'public.user_preferences exists');
select col_is_pk('public', 'user_preferences', 'user_id', 'one settings object per user');
select fk_ok('public', 'user_preferences', 'user_id', 'public', 'users', 'id',
             'preferences belong to a user');
select col_default_is('public', 'user_preferences', 'settings', '{}'::jsonb,
                      'settings start empty');
select policies_are('public', 'user_preferences',
                    array['user_preferences_select_own', 'user_preferences_insert_own',
                          'user_preferences_update_own', 'user_preferences_delete_own'],
                    'public.user_preferences has one owner-only policy per action');
select table_privs_are('public', 'user_preferences', 'anon', array[]::text[],
                       'anon has no privilege on preferences');
select column_privs_are('public', 'user_preferences', 'settings', 'authenticated',
                        array['SELECT', 'INSERT', 'UPDATE'], 'authenticated writes settings');
select column_privs_are('public', 'user_preferences', 'updated_at', 'authenticated',
                        array['SELECT'], 'updated_at is the database''s');
select trigger_is('public', 'user_preferences', 'user_preferences_touch_updated_at', 'private',
                  'touch_updated_at', 'the database stamps updated_at');

select is(
  -- sqlfluff takes the unnest alias r for a column of p, so RF03 calls p.schemaname inconsistent.
  (select array_agg(distinct r order by r) from pg_catalog.pg_policies as p, unnest(p.roles) as r
    where p.schemaname = 'public' -- noqa: RF03
      and p.tablename in ('repositories', 'favourite_repositories', 'user_preferences')),
  array['authenticated']::name[],
  'every policy of these tables applies to authenticated only'
);
select is(
  (select bool_and(c.relrowsecurity) from pg_catalog.pg_class as c
    where c.oid in ('public.repositories'::regclass, 'public.favourite_repositories'::regclass,
                    'public.user_preferences'::regclass)),
  true,
  'RLS is enabled on all three'
);

select * from finish();
rollback;
