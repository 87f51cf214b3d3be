-- What Supabase Auth owns in a profile (id, email, provider, provider_user_id, last_login_at,
-- created_at) changes only by the sync from auth.users: not even service_role, which holds
-- UPDATE on the table, can rewrite it. display_name stays writable, and Auth's changes still
-- reach the profile.
begin;
select plan(10);

select tests.create_supabase_user('dana');
select set_config('test.before',
                  (select to_jsonb(u)::text from public.users as u
                    where u.id = tests.get_supabase_uid('dana')), true);

select tests.authenticate_as_service_role();
select throws_ok(
  $$update public.users set email = 'mallory@example.com' where id = tests.get_supabase_uid('dana')$$,
  '42501', 'only display_name of a profile can change; the rest follows Supabase Auth',
  'service_role cannot rewrite a profile''s email'
);
select throws_ok(
  $$update public.users set provider = 'github' where id = tests.get_supabase_uid('dana')$$,
  '42501', 'only display_name of a profile can change; the rest follows Supabase Auth',
  'service_role cannot rewrite a profile''s provider'
);
select throws_ok(
  $$update public.users set provider_user_id = '583231' where id = tests.get_supabase_uid('dana')$$,
  '42501', 'only display_name of a profile can change; the rest follows Supabase Auth',
  'service_role cannot rewrite the provider''s user id'
);
select throws_ok(
  $$update public.users set last_login_at = now() where id = tests.get_supabase_uid('dana')$$,
  '42501', 'only display_name of a profile can change; the rest follows Supabase Auth',
  'service_role cannot forge a sign-in time'
);
select throws_ok(
  $$update public.users set created_at = now() - interval '1 year'
     where id = tests.get_supabase_uid('dana')$$,
  '42501', 'only display_name of a profile can change; the rest follows Supabase Auth',
  'service_role cannot backdate a profile'
);
select results_eq(
  $$update public.users set display_name = 'Dana' where id = tests.get_supabase_uid('dana')
    returning display_name$$,
  $$values ('Dana')$$,
  'service_role still renames a profile'
);
select tests.clear_authentication();
select is(
  (select (to_jsonb(u) - 'display_name')::text from public.users as u
    where u.id = tests.get_supabase_uid('dana')),
  (current_setting('test.before')::jsonb - 'display_name')::text,
  'the refused updates changed nothing'
);

-- Auth's own changes still flow into the profile.
update auth.users set email = 'dana@new.example.com', last_sign_in_at = '2026-03-04 05:06:07+00'
 where id = tests.get_supabase_uid('dana');
select results_eq(
  $$select email, last_login_at from public.users where id = tests.get_supabase_uid('dana')$$,
  $$values ('dana@new.example.com'::text, '2026-03-04 05:06:07+00'::timestamptz)$$,
  'a change of address and a sign-in in Auth reach the profile'
);
select tests.create_supabase_user('erin', null, 'github');
insert into auth.identities (provider_id, user_id, identity_data, provider)
values ('583231', tests.get_supabase_uid('erin'), '{}', 'github');
select is(
  (select provider_user_id from public.users where id = tests.get_supabase_uid('erin')),
  '583231',
  'the identity sync still writes provider_user_id'
);

-- The trigger runs as the caller, so it compares the caller, not its own owner.
select isnt_definer('private', 'guard_user_profile_columns', array[]::name[],
                    'the profile guard runs as the caller');

select * from finish();
rollback;
