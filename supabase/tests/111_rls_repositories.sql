-- Who may do what to public.repositories and public.favourite_repositories. Alice caches a private
-- and a public repository and favours the private one; Bob caches his own. Each cache is its
-- owner's alone: Bob sees nothing of Alice's (the private one above all), even as editor of a
-- session Alice shared with him, and cannot write to it; Alice cannot favour Bob's repository or
-- file one under Bob's name; anon is refused; service_role manages every cache, yet cannot point
-- a user's favourite at another user's repository.
begin;
select plan(41);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob');
select tests.create_session('alice', 'alice shared prompt');
select tests.share_session(tests.get_session_id('alice shared prompt'), 'bob', 'editor');

-- Alice, the owner
select tests.authenticate_as('alice');
select results_eq(
  $$insert into public.repositories (owner, name, default_branch, is_private, metadata)
    values ('alice-co', 'secret-engine', 'main', true, '{"stargazers_count": 3}')
    returning user_id, provider$$,
  $$values (tests.get_supabase_uid('alice'), 'github')$$,
  'the owner caches a private repository, hers and from GitHub by default'
);
select lives_ok(
  $$insert into public.repositories (owner, name, default_branch)
    values ('torvalds', 'linux', 'master')$$,
  'the owner caches a public repository'
);
select throws_ok(
  $$insert into public.repositories (owner, name) values ('Alice-Co', 'Secret-Engine')$$,
  '23505', null,
  'a repository is cached once per user, names compared case-insensitively'
);
select results_eq(
  $$insert into public.repositories (owner, name, default_branch, metadata)
    values ('ALICE-CO', 'SECRET-ENGINE', 'trunk', '{"stargazers_count": 4}')
    on conflict (user_id, provider, lower(owner), lower(name))
    do update set default_branch = excluded.default_branch, metadata = excluded.metadata,
                  fetched_at = now()
    returning name, default_branch$$,
  $$values ('secret-engine', 'trunk')$$,
  'a refresh is an upsert on the same row'
);
select throws_ok(
  $$insert into public.repositories (user_id, owner, name)
    values (tests.get_supabase_uid('bob'), 'planted', 'on-bob')$$,
  '42501', 'new row violates row-level security policy for table "repositories"',
  'the owner cannot file a repository in another user''s cache'
);
select results_eq(
  $$insert into public.favourite_repositories (repository_id)
    select r.id from public.repositories as r where r.name = 'secret-engine'
    returning user_id$$,
  $$select tests.get_supabase_uid('alice')$$,
  'the owner favours her private repository'
);
select results_eq(
  $$update public.repositories set is_private = false where name = 'linux' returning is_private$$,
  $$values (false)$$,
  'the owner updates her cached metadata'
);
select throws_ok(
  $$update public.repositories set user_id = tests.get_supabase_uid('bob') where name = 'linux'$$,
  '42501', 'permission denied for table repositories',
  'the owner cannot hand a cached repository to another user'
);
select throws_ok(
  $$update public.favourite_repositories set created_at = now()$$,
  '42501', 'permission denied for table favourite_repositories',
  'a favourite is added or removed, never changed'
);

select set_config('test.alices_repository',
                  (select r.id::text from public.repositories as r where r.name = 'secret-engine'),
                  true);

-- Bob, another user (and editor of one of Alice's sessions)
select tests.authenticate_as('bob');
select lives_ok(
  $$insert into public.repositories (owner, name, is_private) values ('bob-co', 'bobs-tool', true)$$,
  'Bob caches his own repository'
);
select results_eq('select name from public.repositories', array['bobs-tool'],
                  'Bob sees only his own cache');
select is_empty(
  $$select * from public.repositories where owner = 'alice-co'$$,
  'Bob sees nothing of Alice''s private repository, editor of her session or not'
);
select is_empty('select * from public.favourite_repositories',
                'Bob sees none of Alice''s favourites');
select is_empty(
  $$update public.repositories set metadata = '{"hacked": true}' where owner = 'alice-co'
    returning id$$,
  'Bob''s update of Alice''s repository affects 0 rows'
);
select throws_ok(
  $$select public.delete_repository(current_setting('test.alices_repository')::uuid)$$,
  'PT404', format('repository %s not found', current_setting('test.alices_repository')),
  'to Bob, Alice''s repository does not exist for delete_repository'
);
select throws_ok(
  $$insert into public.favourite_repositories (user_id, repository_id)
    select tests.get_supabase_uid('alice'), r.id from public.repositories as r
     where r.name = 'bobs-tool'$$,
  '42501', 'new row violates row-level security policy for table "favourite_repositories"',
  'Bob cannot add a favourite to Alice''s list'
);
select throws_ok(
  $$select public.delete_favourite_repository(current_setting('test.alices_repository')::uuid)$$,
  'PT404', format('favourite repository %s not found', current_setting('test.alices_repository')),
  'to Bob, Alice''s favourite does not exist for delete_favourite_repository'
);

-- Alice cannot favour Bob's repository: the key (repository_id, user_id) has no such pair.
select tests.authenticate_as('alice');
select throws_ok(
  $$insert into public.favourite_repositories (repository_id)
    values ((select r.id from public.repositories as r where r.name = 'secret-engine'))$$,
  '23505', null, 'a repository is a favourite once'
);
select tests.clear_authentication();
select set_config('test.bobs_repository',
                  (select r.id::text from public.repositories as r where r.name = 'bobs-tool'),
                  true);
select tests.authenticate_as('alice');
select throws_ok(
  $$insert into public.favourite_repositories (repository_id)
    values (current_setting('test.bobs_repository')::uuid)$$,
  '23503', null, 'Alice cannot favour Bob''s repository'
);

-- anon
select tests.authenticate_as_anon();
select throws_ok('select * from public.repositories', '42501',
                 'permission denied for table repositories', 'anon cannot read repositories');
select throws_ok(
  $$insert into public.repositories (user_id, owner, name)
    values (tests.get_supabase_uid('alice'), 'anon', 'repo')$$,
  '42501', 'permission denied for table repositories', 'anon cannot cache repositories'
);
select throws_ok($$update public.repositories set is_private = false$$, '42501',
                 'permission denied for table repositories', 'anon cannot update repositories');
select throws_ok('delete from public.repositories', '42501',
                 'permission denied for table repositories', 'anon cannot delete repositories');
select throws_ok('select * from public.favourite_repositories', '42501',
                 'permission denied for table favourite_repositories', 'anon cannot read favourites');
select throws_ok(
  $$insert into public.favourite_repositories (user_id, repository_id)
    values (tests.get_supabase_uid('alice'), current_setting('test.bobs_repository')::uuid)$$,
  '42501', 'permission denied for table favourite_repositories', 'anon cannot add favourites'
);
select throws_ok('delete from public.favourite_repositories', '42501',
                 'permission denied for table favourite_repositories', 'anon cannot remove favourites');

-- service_role
select tests.authenticate_as_service_role();
select results_eq(
  $$select count(*)::integer from public.repositories
     where user_id in (tests.get_supabase_uid('alice'), tests.get_supabase_uid('bob'))$$,
  array[3], 'service_role reads every cache'
);
select lives_ok(
  $$insert into public.repositories (user_id, owner, name)
    values (tests.get_supabase_uid('bob'), 'server', 'fetched')$$,
  'service_role caches a repository for any user'
);
select results_eq(
  $$update public.repositories set default_branch = 'dev' where name = 'fetched'
    returning default_branch$$,
  $$values ('dev')$$,
  'service_role updates any cached repository'
);
select throws_ok(
  $$insert into public.favourite_repositories (user_id, repository_id)
    values (tests.get_supabase_uid('alice'), current_setting('test.bobs_repository')::uuid)$$,
  '23503', null, 'not even service_role can make Bob''s repository Alice''s favourite'
);
select lives_ok(
  $$insert into public.favourite_repositories (user_id, repository_id)
    values (tests.get_supabase_uid('bob'), current_setting('test.bobs_repository')::uuid)$$,
  'service_role adds a favourite for its owner'
);
select results_eq(
  $$delete from public.favourite_repositories where user_id = tests.get_supabase_uid('bob')
    returning repository_id$$,
  $$select current_setting('test.bobs_repository')::uuid$$,
  'service_role removes any favourite'
);
select results_eq(
  $$delete from public.repositories where name = 'fetched' returning name$$,
  $$values ('fetched')$$,
  'service_role deletes any cached repository'
);

-- Alice's cache is as she left it; evicting a repository drops it from her favourites.
select tests.authenticate_as('alice');
select results_eq(
  $$select owner, name, default_branch, is_private, metadata from public.repositories order by name$$,
  $$values ('torvalds', 'linux', 'master', false, '{}'::jsonb),
           ('alice-co', 'secret-engine', 'trunk', true, '{"stargazers_count": 4}'::jsonb)$$,
  'Alice''s cache is intact after everyone tried'
);
select results_eq(
  $$select r.name from public.favourite_repositories as f
      join public.repositories as r on r.id = f.repository_id$$,
  array['secret-engine'],
  'Alice''s favourites are intact after everyone tried'
);
select throws_ok('delete from public.favourite_repositories', '42501',
                 'permission denied for table favourite_repositories',
                 'not even the owner deletes favourites through the table (no table locks)');
select lives_ok(
  $$select public.delete_favourite_repository(current_setting('test.alices_repository')::uuid)$$,
  'the owner removes a favourite'
);
select lives_ok(
  $$insert into public.favourite_repositories (repository_id)
    select r.id from public.repositories as r where r.name = 'secret-engine'$$,
  'and adds it back'
);
select throws_ok('delete from public.repositories', '42501',
                 'permission denied for table repositories',
                 'not even the owner deletes repositories through the table (no table locks)');
select lives_ok(
  $$select public.delete_repository(current_setting('test.alices_repository')::uuid)$$,
  'the owner evicts a repository from her cache'
);
select is_empty('select * from public.favourite_repositories',
                'the evicted repository is no longer a favourite');

select * from finish();
rollback;
