-- Bad input to preferences and the repository cache: each mistake fails with a message that
-- names it, and what was there before is exactly as it was.
begin;
select plan(10);

select tests.create_supabase_user('alice');
select tests.authenticate_as('alice');

-- Preferences
select throws_ok(
  $$insert into public.user_preferences (settings) values ('["dark"]')$$,
  '23514',
  'new row for relation "user_preferences" violates check constraint "user_preferences_settings_object"',
  'preferences that are an array are refused'
);
select throws_ok(
  $$insert into public.user_preferences (settings) values ('"dark"')$$,
  '23514',
  'new row for relation "user_preferences" violates check constraint "user_preferences_settings_object"',
  'preferences that are a string are refused'
);
select throws_ok(
  $$insert into public.user_preferences (settings) values (jsonb_build_object('x', repeat('x', 70000)))$$,
  '54000', 'public.user_preferences.settings is 70009 bytes, over its limit of 65536 bytes',
  'preferences over 64 KiB are refused'
);
select lives_ok($$insert into public.user_preferences (settings) values ('{"theme": "dark"}')$$,
                'good preferences are stored');
select throws_ok(
  $$update public.user_preferences set settings = '[]'$$,
  '23514', null, 'preferences cannot be replaced by a non-object'
);
select results_eq('select settings from public.user_preferences',
                  $$values ('{"theme": "dark"}'::jsonb)$$, 'bad preferences changed nothing');

-- Repository cache
select throws_ok(
  $$insert into public.repositories (owner, name) values ('alice-co', 'a/b')$$,
  '23514', 'new row for relation "repositories" violates check constraint "repositories_name_format"',
  'a repository name with a slash is refused'
);
select throws_ok(
  $$insert into public.repositories (owner, name) values ('', 'tool')$$,
  '23514', 'new row for relation "repositories" violates check constraint "repositories_owner_format"',
  'an empty owner is refused'
);
select throws_ok(
  $$insert into public.repositories (owner, name, metadata) values ('alice-co', 'tool', '[]')$$,
  '23514', 'new row for relation "repositories" violates check constraint "repositories_metadata_object"',
  'repository metadata that is not an object is refused'
);
select is_empty('select * from public.repositories', 'bad repositories wrote nothing');

select * from finish();
rollback;
