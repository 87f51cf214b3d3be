-- Who may do what to public.users. Alice and Bob are signed-up users; each has the profile Auth's
-- trigger created. anon gets nothing, Alice reads and renames only her own profile and cannot
-- touch its id, email or provider, Bob cannot see or change Alice's, service_role sees and
-- manages every profile.
begin;
select plan(24);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob');
update public.users set display_name = 'Alice' where id = tests.get_supabase_uid('alice');

-- anon
select tests.authenticate_as_anon();
select throws_ok('select * from public.users', '42501', 'permission denied for table users',
                 'anon cannot read users');
select throws_ok(
  $$insert into public.users (id, provider, provider_user_id)
    values (gen_random_uuid(), 'email', 'x')$$,
  '42501', 'permission denied for table users', 'anon cannot insert users'
);
select throws_ok($$update public.users set display_name = 'anon'$$, '42501',
                 'permission denied for table users', 'anon cannot update users');
select throws_ok('delete from public.users', '42501', 'permission denied for table users',
                 'anon cannot delete users');

-- Alice, the owner of her profile
select tests.authenticate_as('alice');
select results_eq('select id from public.users', $$select tests.get_supabase_uid('alice')$$,
                  'Alice sees exactly one profile: her own');
select results_eq(
  $$update public.users set display_name = 'Alice A.' where id = tests.get_supabase_uid('alice')
    returning display_name$$,
  $$values ('Alice A.')$$,
  'Alice renames herself'
);
select throws_ok(
  $$update public.users set email = 'mallory@example.com'
     where id = tests.get_supabase_uid('alice')$$,
  '42501', 'permission denied for table users', 'Alice cannot change her email'
);
select throws_ok(
  $$update public.users set provider = 'github' where id = tests.get_supabase_uid('alice')$$,
  '42501', 'permission denied for table users', 'Alice cannot change her provider'
);
select throws_ok(
  $$update public.users set id = tests.get_supabase_uid('bob')
     where id = tests.get_supabase_uid('alice')$$,
  '42501', 'permission denied for table users', 'Alice cannot change her id'
);
select throws_ok(
  $$insert into public.users (id, provider, provider_user_id)
    values (tests.get_supabase_uid('alice'), 'email', 'second')$$,
  '42501', 'permission denied for table users', 'Alice cannot insert a profile'
);
select throws_ok($$delete from public.users where id = tests.get_supabase_uid('alice')$$,
                 '42501', 'permission denied for table users', 'Alice cannot delete her profile');

-- Bob, another user
select tests.authenticate_as('bob');
select is_empty($$select * from public.users where id = tests.get_supabase_uid('alice')$$,
                'Bob does not see Alice''s profile');
select is_empty(
  $$update public.users set display_name = 'Bob was here'
     where id = tests.get_supabase_uid('alice') returning id$$,
  'Bob''s update of Alice''s profile affects 0 rows'
);
select throws_ok(
  $$insert into public.users (id, provider, provider_user_id)
    values (tests.get_supabase_uid('alice'), 'github', 'bob-plants')$$,
  '42501', 'permission denied for table users', 'Bob cannot insert a profile for Alice'
);
select throws_ok($$delete from public.users where id = tests.get_supabase_uid('alice')$$,
                 '42501', 'permission denied for table users', 'Bob cannot delete Alice''s profile');

select tests.clear_authentication();
select results_eq(
  $$select display_name, email, provider from public.users
     where id = tests.get_supabase_uid('alice')$$,
  $$values ('Alice A.', 'alice@test.lift-sys.dev', 'email')$$,
  'Alice''s profile is exactly as she left it'
);

-- service_role
select tests.authenticate_as_service_role();
select results_eq(
  $$select count(*)::integer from public.users
     where id in (tests.get_supabase_uid('alice'), tests.get_supabase_uid('bob'))$$,
  array[2],
  'service_role sees every profile'
);
select results_eq(
  $$update public.users set display_name = 'Robert' where id = tests.get_supabase_uid('bob')
    returning display_name$$,
  $$values ('Robert')$$,
  'service_role updates any profile'
);
select results_eq(
  $$delete from public.users where id = tests.get_supabase_uid('bob') returning id$$,
  $$select tests.get_supabase_uid('bob')$$,
  'service_role deletes a profile'
);
select results_eq(
  $$insert into public.users (id, email, provider, provider_user_id)
    values (tests.get_supabase_uid('bob'), 'bob@test.lift-sys.dev', 'email',
            tests.get_supabase_uid('bob')::text)
    returning id$$,
  $$select tests.get_supabase_uid('bob')$$,
  'service_role inserts a profile for an auth user without one'
);

-- The RLS guard above is what stops Bob; prove it is not the grant alone.
select tests.clear_authentication();
select ok(has_column_privilege('authenticated', 'public.users', 'display_name', 'update'),
          'authenticated holds update on display_name, so only RLS keeps Bob off Alice''s row');
select tests.authenticate_as('bob');
select results_eq(
  $$update public.users set display_name = 'Bob B.' where id = tests.get_supabase_uid('bob')
    returning display_name$$,
  $$values ('Bob B.')$$,
  'Bob renames himself'
);
select results_eq('select id from public.users', $$select tests.get_supabase_uid('bob')$$,
                  'Bob sees exactly one profile: his own');

-- The caller's identity, not the query, decides: with no identity there is no row.
select set_config('request.jwt.claims', '{"role": "authenticated"}', true);
select is_empty('select * from public.users',
                'authenticated without a user id sees no profile');

select * from finish();
rollback;
