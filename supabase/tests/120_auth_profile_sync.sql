-- Profiles follow Auth: signing up creates one in the same transaction, signing in and changing
-- address update it, an OAuth identity records the provider's user id, and deleting the auth user
-- takes the profile and everything it owns with it. Nothing a user puts in their metadata can
-- make sign-up fail.
begin;
select plan(20);

-- An email sign-up, as the helper (and GoTrue) inserts it.
select tests.create_supabase_user('carol', 'carol@example.com', 'email');
select results_eq(
  $$select u.id, u.email, u.provider, u.provider_user_id, u.last_login_at, u.created_at
      from public.users as u where u.id = tests.get_supabase_uid('carol')$$,
  $$select a.id, a.email::text, 'email'::text, a.id::text, null::timestamptz, a.created_at
      from auth.users as a where a.id = tests.get_supabase_uid('carol')$$,
  'an email sign-up gets a profile with the same id, its email, provider and created_at'
);

-- A GitHub sign-up: user first, then identity, as GoTrue writes them.
insert into auth.users (id, aud, role, email, raw_app_meta_data, raw_user_meta_data, created_at,
                        updated_at, last_sign_in_at)
values ('d0000000-0000-4000-8000-00000000000d', 'authenticated', 'authenticated',
        'dana@example.com', '{"provider": "github", "providers": ["github"]}',
        '{"full_name": "  Dana Dev  ", "user_name": "dana"}', now(), now(),
        '2026-01-01 09:00:00+00');
select results_eq(
  $$select provider, provider_user_id, display_name, last_login_at from public.users
     where id = 'd0000000-0000-4000-8000-00000000000d'$$,
  $$values ('github', 'd0000000-0000-4000-8000-00000000000d', 'Dana Dev',
            '2026-01-01 09:00:00+00'::timestamptz)$$,
  'provider comes from app metadata, the display name from the trimmed full name'
);
insert into auth.identities (provider_id, user_id, identity_data, provider, created_at, updated_at)
values ('583231', 'd0000000-0000-4000-8000-00000000000d',
        '{"sub": "583231", "email": "dana@example.com"}', 'github', now(), now());
select is(
  (select provider_user_id from public.users where id = 'd0000000-0000-4000-8000-00000000000d'),
  '583231',
  'the GitHub identity records the provider''s user id'
);
insert into auth.identities (provider_id, user_id, identity_data, provider, created_at, updated_at)
values ('google-77', 'd0000000-0000-4000-8000-00000000000d', '{"sub": "google-77"}', 'google',
        now(), now());
select is(
  (select provider_user_id from public.users where id = 'd0000000-0000-4000-8000-00000000000d'),
  '583231',
  'linking a second provider leaves the primary provider user id alone'
);

-- Sign-in and address change.
update auth.users set last_sign_in_at = '2026-02-03 04:05:06+00'
 where id = tests.get_supabase_uid('carol');
select is(
  (select last_login_at from public.users where id = tests.get_supabase_uid('carol')),
  '2026-02-03 04:05:06+00'::timestamptz,
  'a sign-in moves last_login_at'
);
update auth.users set email = 'carol@new.example.com' where id = tests.get_supabase_uid('carol');
select is(
  (select email from public.users where id = tests.get_supabase_uid('carol')),
  'carol@new.example.com',
  'an address change reaches the profile'
);
update public.users set display_name = 'Carol' where id = tests.get_supabase_uid('carol');
update auth.users set raw_user_meta_data = raw_user_meta_data || '{"full_name": "Someone Else"}'
 where id = tests.get_supabase_uid('carol');
select is(
  (select display_name from public.users where id = tests.get_supabase_uid('carol')),
  'Carol',
  'changing user metadata later does not overwrite the chosen display name'
);

-- Metadata the user controls cannot break sign-up.
select lives_ok(
  $$select tests.create_supabase_user('erin')$$, 'a plain sign-up works'
);
insert into auth.users (id, aud, role, email, raw_app_meta_data, raw_user_meta_data, created_at,
                        updated_at)
values ('f0000000-0000-4000-8000-00000000000f', 'authenticated', 'authenticated',
        'frank@example.com', '{"provider": "email"}', jsonb_build_object('name', repeat('n', 500)),
        now(), now());
select is(
  (select char_length(display_name) from public.users
    where id = 'f0000000-0000-4000-8000-00000000000f'),
  200,
  'a 500-character name is cut to 200, not refused'
);
insert into auth.users (id, aud, role, email, raw_app_meta_data, raw_user_meta_data, created_at,
                        updated_at)
values ('a0000000-0000-4000-8000-00000000000a', 'authenticated', 'authenticated',
        'gina@example.com', '{"provider": "email"}', '{"full_name": "   "}', now(), now());
select is(
  (select display_name from public.users where id = 'a0000000-0000-4000-8000-00000000000a'),
  null,
  'a blank name gives no display name'
);

-- An anonymous sign-in has no email and no provider in app metadata.
insert into auth.users (id, aud, role, raw_app_meta_data, raw_user_meta_data, created_at,
                        updated_at, is_anonymous)
values ('b0000000-0000-4000-8000-00000000000b', 'authenticated', 'authenticated', '{}', '{}',
        now(), now(), true);
select results_eq(
  $$select email, provider from public.users where id = 'b0000000-0000-4000-8000-00000000000b'$$,
  $$values (null::text, 'anonymous')$$,
  'an anonymous user gets a profile without email, provider anonymous'
);

-- One profile per provider account.
select throws_ok(
  $$update public.users set provider = 'github', provider_user_id = '583231'
     where id = tests.get_supabase_uid('carol')$$,
  '23505', null,
  'two profiles cannot claim the same provider account'
);

-- Users cannot reach the trigger functions.
select tests.authenticate_as('carol');
select throws_ok(
  $$select private.create_user_profile()$$,
  '42501', 'permission denied for schema private',
  'a user cannot call the profile trigger function'
);
select throws_ok(
  $$select private.record_session_history()$$,
  '42501', 'permission denied for schema private',
  'a user cannot call the history recorder'
);
select tests.clear_authentication();

-- Display names have a bound even for the server.
select throws_ok(
  $$update public.users set display_name = repeat('n', 201)
     where id = tests.get_supabase_uid('carol')$$,
  '23514', 'new row for relation "users" violates check constraint "users_display_name_length"',
  'a display name over 200 characters is refused'
);
select throws_ok(
  $$update public.users set display_name = '' where id = tests.get_supabase_uid('carol')$$,
  '23514', 'new row for relation "users" violates check constraint "users_display_name_length"',
  'an empty display name is refused'
);

-- Deleting the auth user removes the profile, its sessions and their history.
select tests.create_session('carol', 'carol prompt', '{"v": 1}');
select public.update_session_ir(tests.get_session_id('carol prompt'), '{"v": 2}');
select is(
  (select count(*)::integer from public.session_history
    where session_id = tests.get_session_id('carol prompt')),
  2,
  'Carol has a session with two versions'
);
select set_config('test.carol', tests.get_supabase_uid('carol')::text, true);
select set_config('test.carol_session', tests.get_session_id('carol prompt')::text, true);
delete from auth.users where id = tests.get_supabase_uid('carol');
select is_empty(
  $$select * from public.users where id = current_setting('test.carol')::uuid$$,
  'the profile went with the auth user'
);
select is_empty(
  $$select * from public.sessions where user_id = current_setting('test.carol')::uuid$$,
  'so did the sessions'
);
select is_empty(
  $$select * from public.session_history
     where session_id = current_setting('test.carol_session')::uuid$$,
  'and their history'
);

select * from finish();
rollback;
