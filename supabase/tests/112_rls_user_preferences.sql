-- Who may do what to public.user_preferences. Alice keeps one settings object; Bob keeps his.
-- Each reads, writes and resets only their own; Bob (editor of a session Alice shared with him)
-- sees and changes nothing of Alice's; anon is refused; service_role manages everyone's.
begin;
select plan(21);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob');
select tests.create_session('alice', 'alice shared prompt');
select tests.share_session(tests.get_session_id('alice shared prompt'), 'bob', 'editor');

-- Alice, the owner
select tests.authenticate_as('alice');
select results_eq(
  $$insert into public.user_preferences (settings) values ('{"theme": "dark"}')
    returning user_id, settings$$,
  $$values (tests.get_supabase_uid('alice'), '{"theme": "dark"}'::jsonb)$$,
  'the owner stores her settings, keyed by her by default'
);
select throws_ok(
  $$insert into public.user_preferences (settings) values ('{"theme": "light"}')$$,
  '23505', null, 'a user has one settings object'
);
select results_eq(
  $$insert into public.user_preferences (settings) values ('{"theme": "light", "font": 14}')
    on conflict (user_id) do update set settings = excluded.settings
    returning settings$$,
  $$values ('{"theme": "light", "font": 14}'::jsonb)$$,
  'the owner upserts her settings'
);
select throws_ok(
  $$insert into public.user_preferences (user_id, settings)
    values (tests.get_supabase_uid('bob'), '{"planted": true}')$$,
  '42501', 'new row violates row-level security policy for table "user_preferences"',
  'the owner cannot write another user''s settings'
);
select throws_ok(
  $$update public.user_preferences set user_id = tests.get_supabase_uid('bob')$$,
  '42501', 'permission denied for table user_preferences',
  'the owner cannot hand her settings to another user'
);

-- Bob, another user
select tests.authenticate_as('bob');
select lives_ok($$insert into public.user_preferences (settings) values ('{"theme": "solar"}')$$,
                'Bob stores his own settings');
select results_eq('select settings from public.user_preferences',
                  $$values ('{"theme": "solar"}'::jsonb)$$,
                  'Bob reads only his own settings');
select is_empty(
  $$update public.user_preferences set settings = '{"theme": "bob"}'
     where user_id = tests.get_supabase_uid('alice') returning user_id$$,
  'Bob''s update of Alice''s settings affects 0 rows'
);
select throws_ok(
  $$delete from public.user_preferences where user_id = tests.get_supabase_uid('alice')$$,
  '42501', 'permission denied for table user_preferences',
  'Bob cannot delete through the table (public.delete_user_preferences removes only his own)'
);

-- anon
select tests.authenticate_as_anon();
select throws_ok('select * from public.user_preferences', '42501',
                 'permission denied for table user_preferences', 'anon cannot read settings');
select throws_ok(
  $$insert into public.user_preferences (user_id, settings)
    values (tests.get_supabase_uid('alice'), '{}')$$,
  '42501', 'permission denied for table user_preferences', 'anon cannot write settings'
);
select throws_ok($$update public.user_preferences set settings = '{}'$$, '42501',
                 'permission denied for table user_preferences', 'anon cannot update settings');
select throws_ok('delete from public.user_preferences', '42501',
                 'permission denied for table user_preferences', 'anon cannot delete settings');

-- service_role
select tests.authenticate_as_service_role();
select results_eq(
  $$select count(*)::integer from public.user_preferences
     where user_id in (tests.get_supabase_uid('alice'), tests.get_supabase_uid('bob'))$$,
  array[2], 'service_role reads everyone''s settings'
);
select results_eq(
  $$update public.user_preferences set settings = '{"theme": "reset"}'
     where user_id = tests.get_supabase_uid('bob') returning settings$$,
  $$values ('{"theme": "reset"}'::jsonb)$$,
  'service_role updates any user''s settings'
);
select results_eq(
  $$delete from public.user_preferences where user_id = tests.get_supabase_uid('bob')
    returning user_id$$,
  $$select tests.get_supabase_uid('bob')$$,
  'service_role deletes any user''s settings'
);
select results_eq(
  $$insert into public.user_preferences (user_id, settings, updated_at)
    values (tests.get_supabase_uid('bob'), '{"theme": "server"}', '2000-01-01')
    returning updated_at$$,
  $$values (now())$$,
  'service_role writes settings for any user; the database, not the writer, stamps updated_at'
);

-- Alice's settings are as she left them; she may reset them.
select tests.authenticate_as('alice');
select results_eq('select settings from public.user_preferences',
                  $$values ('{"theme": "light", "font": 14}'::jsonb)$$,
                  'Alice''s settings are intact after everyone tried');
select lives_ok('select public.delete_user_preferences()', 'the owner resets her settings');
select is_empty('select * from public.user_preferences', 'and has none left');
select throws_ok('select public.delete_user_preferences()', 'PT404', 'user preferences not found',
                 'resetting settings that are not there says so');

select * from finish();
rollback;
