-- INSERT … ON CONFLICT DO UPDATE … WHERE runs its WHERE clause on the conflicting row, and locks
-- it, before RLS refuses the update. Whoever may propose a unique-key value that collides with a
-- row they cannot see could copy that row into a setting, lock it, or learn from a unique
-- violation that it exists. Here every unique key of every API-writable table is tried by
-- Mallory (a stranger) and by Victor (a former viewer) against Alice's rows: each proposal is
-- refused before the conflict, with the error a random key gets, and nothing leaks.
begin;
select plan(26);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('victor');
select tests.create_supabase_user('mallory');
select tests.create_session('alice', 'alice secret', '{"spec": "hidden"}');
select tests.share_session(tests.get_session_id('alice secret'), 'victor', 'viewer');
select tests.embed_session('alice secret', tests.planar_embedding(10));
insert into public.comments (session_id, author_id, body)
values (tests.get_session_id('alice secret'), tests.get_supabase_uid('alice'), 'alice: hidden note');
insert into public.repositories (user_id, owner, name)
values (tests.get_supabase_uid('alice'), 'alice-co', 'secret-engine');
insert into public.favourite_repositories (user_id, repository_id)
select
r.user_id,
r.id
from public.repositories as r where r.name = 'secret-engine';
insert into public.user_preferences (user_id, settings)
values (tests.get_supabase_uid('alice'), '{"theme": "hidden"}');

-- Ids the attackers learnt while they could (Victor was a viewer) or guessed.
create temporary table known (what text primary key, id uuid) on commit drop;
insert into known (what, id)
values
  ('session', tests.get_session_id('alice secret')),
  ('comment', (select c.id from public.comments as c where c.body = 'alice: hidden note')),
  ('repository', (select r.id from public.repositories as r where r.name = 'secret-engine')),
  ('alice', tests.get_supabase_uid('alice'));
grant select on known to authenticated;

-- The owner revokes Victor's share: from now on the session is hidden from him.
delete from public.session_shares where user_id = tests.get_supabase_uid('victor');

-- The issue's reproduction: copy the hidden row into a setting from the WHERE clause.
select tests.authenticate_as('mallory');
select throws_ok(
  $$insert into public.sessions (id, prompt)
    values ((select id from known where what = 'session'), 'x')
    on conflict (id) do update set prompt = excluded.prompt
    where set_config('x.leak', row_to_json(sessions.*)::text, true) is null$$,
  '42501', 'permission denied for table sessions',
  'a stranger cannot propose the id of a hidden session (read through ON CONFLICT WHERE)'
);
select is(nullif(current_setting('x.leak', true), ''), null, 'nothing of the row reached a setting');
select throws_ok(
  $$insert into public.sessions (id, prompt)
    values ((select id from known where what = 'session'), 'x')
    on conflict (id) do update set prompt = excluded.prompt where false$$,
  '42501', 'permission denied for table sessions',
  'a stranger cannot lock a hidden session with WHERE false'
);
-- The error is the one a random id gets: no unique-violation oracle.
select throws_ok(
  $$insert into public.sessions (id, prompt)
    values ((select id from known where what = 'session'), 'x')$$,
  '42501', 'permission denied for table sessions',
  'an existing hidden id is refused ...'
);
select throws_ok(
  $$insert into public.sessions (id, prompt) values (gen_random_uuid(), 'x')$$,
  '42501', 'permission denied for table sessions', '... exactly as a random id is'
);

-- The former viewer.
select tests.authenticate_as('victor');
select throws_ok(
  $$insert into public.sessions (id, prompt)
    values ((select id from known where what = 'session'), 'x')
    on conflict (id) do update set prompt = excluded.prompt
    where (row_to_json(sessions.*)::text)::int = 0$$,
  '42501', 'permission denied for table sessions',
  'a former viewer cannot read the revoked session through ON CONFLICT'
);
select tests.create_session('victor', 'victor own');
select throws_ok(
  $$insert into public.comments (id, session_id, body)
    values ((select id from known where what = 'comment'),
            tests.get_session_id('victor own'), 'x')
    on conflict (id) do update set body = excluded.body
    where (row_to_json(comments.*)::text)::int = 0$$,
  '42501', 'permission denied for table comments',
  'a former viewer cannot read a comment of the revoked session through ON CONFLICT'
);
select throws_ok(
  $$insert into public.session_embeddings (session_id, embedding, model, ir_version)
    values ((select id from known where what = 'session'), tests.planar_embedding(0), 'm', 1)
    on conflict (session_id) do update set model = excluded.model
    where (row_to_json(session_embeddings.*)::text)::int = 0$$,
  'PT404', format('session %s not found', (select id from known where what = 'session')),
  'a former viewer cannot reach the revoked session''s embedding'
);
select throws_ok(
  $$insert into public.session_embeddings (session_id, embedding, model, ir_version)
    values ('00000000-0000-4000-8000-000000000000', tests.planar_embedding(0), 'm', 1)$$,
  'PT404', 'session 00000000-0000-4000-8000-000000000000 not found',
  '... the error a session that does not exist gets'
);
select throws_ok(
  $$insert into public.session_shares (session_id, user_id, role)
    values ((select id from known where what = 'session'), tests.get_supabase_uid('victor'),
            'editor')
    on conflict (session_id, user_id) do update set role = excluded.role
    where (row_to_json(session_shares.*)::text)::int = 0$$,
  '42501', 'new row violates row-level security policy for table "session_shares"',
  'a former viewer cannot restore or read a share'
);

-- Every other key, by the stranger.
select tests.authenticate_as('mallory');
select throws_ok(
  $$insert into public.comments (id, session_id, body)
    values ((select id from known where what = 'comment'), gen_random_uuid(), 'x')$$,
  '42501', 'permission denied for table comments', 'comment ids are the database''s'
);
select throws_ok(
  $$insert into public.repositories (id, owner, name)
    values ((select id from known where what = 'repository'), 'm', 'x')
    on conflict (id) do update set name = excluded.name
    where (row_to_json(repositories.*)::text)::int = 0$$,
  '42501', 'permission denied for table repositories', 'repository ids are the database''s'
);
select throws_ok(
  $$insert into public.repositories (user_id, owner, name)
    values ((select id from known where what = 'alice'), 'alice-co', 'secret-engine')
    on conflict (user_id, provider, lower(owner), lower(name)) do update set name = excluded.name
    where (row_to_json(repositories.*)::text)::int = 0$$,
  '42501', 'new row violates row-level security policy for table "repositories"',
  'the (user, provider, owner, name) key cannot name another user'
);
select throws_ok(
  $$insert into public.favourite_repositories (user_id, repository_id)
    values ((select id from known where what = 'alice'),
            (select id from known where what = 'repository'))
    on conflict do nothing$$,
  '42501', 'new row violates row-level security policy for table "favourite_repositories"',
  'the favourites key cannot name another user'
);
select throws_ok(
  $$insert into public.user_preferences (user_id, settings)
    values ((select id from known where what = 'alice'), '{}')
    on conflict (user_id) do update set settings = excluded.settings
    where (row_to_json(user_preferences.*)::text)::int = 0$$,
  '42501', 'new row violates row-level security policy for table "user_preferences"',
  'the preferences key cannot name another user'
);
select throws_ok(
  $$insert into public.session_shares (session_id, user_id)
    values ((select id from known where what = 'session'),
            (select id from known where what = 'alice'))
    on conflict (session_id, user_id) do update set role = excluded.role
    where (row_to_json(session_shares.*)::text)::int = 0$$,
  '42501', 'new row violates row-level security policy for table "session_shares"',
  'the shares key cannot name another user''s session'
);
select throws_ok(
  $$insert into public.analytics_events (id, created_at, event_type)
    values (gen_random_uuid(), now(), 'x')$$,
  '42501', 'permission denied for table analytics_events', 'event keys are the database''s'
);
select throws_ok(
  $$insert into public.users (id, provider, provider_user_id)
    values ((select id from known where what = 'alice'), 'email', 'x')$$,
  '42501', 'permission denied for table users', 'profile keys are the database''s'
);

-- The caller-bound keys hold on their own, without the INSERT policies (which PostgreSQL also
-- checks before the conflict): the triggers refuse first.
select tests.clear_authentication();
alter policy user_preferences_insert_own on public.user_preferences with check (true);
alter policy favourite_repositories_insert_own on public.favourite_repositories with check (true);
alter policy repositories_insert_own on public.repositories with check (true);
alter policy session_shares_insert_owner on public.session_shares with check (true);
alter policy session_embeddings_insert_own on public.session_embeddings with check (true);
select tests.share_session(tests.get_session_id('alice secret'), 'mallory', 'viewer');
select tests.authenticate_as('mallory');
select throws_ok(
  $$insert into public.user_preferences (user_id, settings)
    values ((select id from known where what = 'alice'), '{}')
    on conflict (user_id) do update set settings = excluded.settings
    where (row_to_json(user_preferences.*)::text)::int = 0$$,
  '42501', 'new row violates row-level security policy for table "user_preferences"',
  'the preferences trigger binds user_id to the caller'
);
select throws_ok(
  $$insert into public.favourite_repositories (user_id, repository_id)
    values ((select id from known where what = 'alice'),
            (select id from known where what = 'repository'))
    on conflict do nothing$$,
  '42501', 'new row violates row-level security policy for table "favourite_repositories"',
  'the favourites trigger binds user_id to the caller'
);
select throws_ok(
  $$insert into public.repositories (user_id, owner, name)
    values ((select id from known where what = 'alice'), 'alice-co', 'secret-engine')
    on conflict (user_id, provider, lower(owner), lower(name)) do update set name = excluded.name
    where (row_to_json(repositories.*)::text)::int = 0$$,
  '42501', 'new row violates row-level security policy for table "repositories"',
  'the repositories trigger binds user_id to the caller'
);
select throws_ok(
  $$insert into public.session_shares (session_id, user_id)
    values ((select id from known where what = 'session'),
            (select id from known where what = 'alice'))
    on conflict (session_id, user_id) do update set role = excluded.role
    where (row_to_json(session_shares.*)::text)::int = 0$$,
  '42501', 'new row violates row-level security policy for table "session_shares"',
  'the shares trigger binds session_id to the caller''s own sessions (a viewer''s is not)'
);
select throws_ok(
  $$insert into public.session_embeddings (session_id, embedding, model, ir_version)
    values ((select id from known where what = 'session'), tests.planar_embedding(0), 'm', 1)
    on conflict (session_id) do update set model = excluded.model
    where (row_to_json(session_embeddings.*)::text)::int = 0$$,
  '42501', 'new row violates row-level security policy for table "session_embeddings"',
  'the embeddings trigger binds session_id to the caller''s own sessions'
);
select lives_ok(
  $$insert into public.user_preferences (user_id, settings)
    values ((select auth.uid()), '{"theme": "mine"}')
    on conflict (user_id) do update set settings = excluded.settings$$,
  'the caller''s own key passes the trigger'
);

-- After all of it, Alice's rows are as she left them.
select tests.clear_authentication();
select results_eq(
  $$select s.prompt, s.current_ir from public.sessions as s
     where s.id = (select id from known where what = 'session')$$,
  $$values ('alice secret', '{"spec": "hidden"}'::jsonb)$$,
  'the hidden session is unchanged'
);
select results_eq(
  $$select p.settings from public.user_preferences as p
     where p.user_id = (select id from known where what = 'alice')$$,
  $$values ('{"theme": "hidden"}'::jsonb)$$,
  'the hidden preferences are unchanged'
);

select * from finish();
rollback;
