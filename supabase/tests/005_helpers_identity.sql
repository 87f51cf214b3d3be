-- The identity helpers of 000_setup_identity.sql do what their doc blocks say: a test user is a
-- user of Auth named by its identifier, and acting as a user, anon, service_role or nobody is
-- exactly what PostgREST's request would be, for the rest of the transaction only.
begin;
select plan(24);

-- tests.create_supabase_user and tests.get_supabase_uid
select set_config('test.probe_id', tests.create_supabase_user('helper_probe')::text, true);
select set_config('test.github_id',
                  tests.create_supabase_user('helper_github', 'octo@example.test', 'github')::text, true);
select is(tests.get_supabase_uid('helper_probe'), current_setting('test.probe_id')::uuid,
          'create_supabase_user returns the id get_supabase_uid finds by the identifier');
select results_eq(
  $$select email::text, raw_app_meta_data ->> 'provider', aud::text, role::text
      from auth.users where id = tests.get_supabase_uid('helper_probe')$$,
  $$values ('helper_probe@test.lift-sys.dev', 'email', 'authenticated', 'authenticated')$$,
  'a user is signed up by email at <identifier>@test.lift-sys.dev, as GoTrue writes it'
);
select results_eq(
  $$select email::text, raw_app_meta_data -> 'providers'
      from auth.users where id = tests.get_supabase_uid('helper_github')$$,
  $$values ('octo@example.test', '["github"]'::jsonb)$$,
  'the email and the provider can be chosen'
);
select ok(exists (select from public.users where id = tests.get_supabase_uid('helper_probe')),
          'Auth''s trigger gives the test user a profile');
select is(tests.get_supabase_uid('nobody_by_that_name'), null,
          'get_supabase_uid is null for an identifier no test user has');

-- tests.authenticate_as
select tests.authenticate_as('helper_probe');
select is(auth.uid(), tests.get_supabase_uid('helper_probe'), 'authenticate_as sets auth.uid()');
select is(current_user::text, 'authenticated', 'authenticate_as switches to authenticated');
select is(auth.role(), 'authenticated', 'the claims carry the role, as a user''s token does');
select is(tests.get_supabase_uid('helper_github'), current_setting('test.github_id')::uuid,
          'get_supabase_uid finds any test user while acting as a user');
select tests.authenticate_as('helper_github');
select is(auth.uid(), tests.get_supabase_uid('helper_github'), 'acting as another user replaces the first');
select throws_ok($$select tests.authenticate_as('nobody_by_that_name')$$, 'P0001',
                 'tests.authenticate_as: no test user nobody_by_that_name',
                 'acting as a user who does not exist is refused, by name');
select is(auth.uid(), tests.get_supabase_uid('helper_github'), 'and leaves the identity as it was');

-- tests.authenticate_as_anon
select tests.authenticate_as_anon();
select is(auth.uid(), null, 'anon has no uid');
select is(current_user::text, 'anon', 'authenticate_as_anon switches to anon');
select is(auth.role(), 'anon', 'the claims say anon');

-- tests.authenticate_as_service_role
select tests.authenticate_as_service_role();
select is(current_user::text, 'service_role', 'authenticate_as_service_role switches to service_role');
select is(auth.role(), 'service_role', 'the claims say service_role');
select is(auth.uid(), null, 'service_role acts for no user');

-- tests.clear_authentication
select tests.authenticate_as('helper_probe');
select tests.clear_authentication();
select is(current_user::text, 'postgres', 'clear_authentication returns to postgres');
select is(auth.uid(), null, 'and clears the user');
select is(nullif(current_setting('request.jwt.claims', true), ''), null, 'and clears the claims');

-- For the rest of the transaction only (set_config(..., true)): a subtransaction rolled back
-- takes the identity with it, as the end of a request does.
select throws_ok(
  $sql$do $d$ begin perform tests.authenticate_as('helper_probe');
                    raise exception 'acting as %', current_user; end $d$$sql$,
  'P0001', 'acting as authenticated', 'inside a subtransaction the user acts'
);
select is(current_user::text, 'postgres', 'the identity ends with the transaction that set it');
select is(nullif(current_setting('request.jwt.claims', true), ''), null, 'and so do the claims');

select * from finish();
rollback;
