-- Caps on what API roles store (private.column_limits): an IR over 1 MiB, JSON nested 5,000
-- levels in every JSON column outside sessions, and oversized text are refused with SQLSTATE
-- 54000 naming the column, whoever writes, and nothing is stored. An operator raises or lowers
-- a cap with one UPDATE; a lowered cap never blocks changes to other columns of an old row.
-- Every IR version records its author from auth.uid(), which the owner reads.
begin;
select plan(23);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob');
select tests.create_session('alice', 'capped prompt', '{"v": 1}');
select tests.share_session(tests.get_session_id('capped prompt'), 'bob', 'editor');
select set_config('test.digest', tests.user_data_digest('alice'), true);
select set_config('test.deep', repeat('[', 5000) || repeat(']', 5000), true);
select tests.authenticate_as('alice');

-- Sessions.
select throws_ok(
  $$select public.update_session_ir(tests.get_session_id('capped prompt'),
             jsonb_build_object('blob', repeat('x', 1048576)))$$,
  '54000', 'public.sessions.current_ir is 1048588 bytes, over its limit of 1048576 bytes',
  'an IR over 1 MiB is refused by update_session_ir'
);
select throws_ok(
  $$insert into public.sessions (prompt, current_ir)
    values ('big', jsonb_build_object('blob', repeat('x', 1048576)))$$,
  '54000', 'public.sessions.current_ir is 1048588 bytes, over its limit of 1048576 bytes',
  'an IR over 1 MiB is refused on insert'
);
select throws_ok(
  $$update public.sessions set metadata = jsonb_build_object('holes', repeat('é', 140000))
     where prompt = 'capped prompt'$$,
  '54000', 'public.sessions.metadata is 280013 bytes, over its limit of 262144 bytes',
  'metadata over 256 KiB (counted in UTF-8 bytes) is refused'
);
select is(tests.user_data_digest('alice'), current_setting('test.digest'),
          'the refused writes stored nothing, in the session or its history');
select lives_ok(
  $$select public.update_session_ir(tests.get_session_id('capped prompt'),
             jsonb_build_object('blob', repeat('x', 1048000)))$$,
  'an IR just under 1 MiB is accepted'
);

-- Deep JSON outside sessions.
select throws_ok(
  $$insert into public.analytics_events (event_type, event_data)
    values ('deep', jsonb_build_object('a', current_setting('test.deep')::jsonb))$$,
  '54000', 'public.analytics_events.event_data is nested deeper than 100 levels',
  'event data 5,000 levels deep is refused'
);
select throws_ok(
  $$insert into public.user_preferences (settings)
    values (jsonb_build_object('a', current_setting('test.deep')::jsonb))$$,
  '54000', 'public.user_preferences.settings is nested deeper than 100 levels',
  'preferences 5,000 levels deep are refused'
);
select throws_ok(
  $$insert into public.repositories (owner, name, metadata)
    values ('octo', 'deep', jsonb_build_object('a', current_setting('test.deep')::jsonb))$$,
  '54000', 'public.repositories.metadata is nested deeper than 100 levels',
  'repository metadata 5,000 levels deep is refused'
);
select lives_ok(
  $$insert into public.repositories (owner, name, metadata)
    values ('octo', 'shallow',
            jsonb_build_object('a', (repeat('[', 99) || repeat(']', 99))::jsonb))$$,
  'repository metadata exactly 100 levels deep is accepted'
);

-- Text.
select throws_ok(
  $$insert into public.comments (session_id, body)
    values (tests.get_session_id('capped prompt'), repeat('😀', 10001))$$,
  '54000', 'public.comments.body is 40004 bytes, over its limit of 40000 bytes',
  'a comment over its byte cap is refused'
);
select lives_ok(
  $$insert into public.comments (session_id, body)
    values (tests.get_session_id('capped prompt'), repeat('😀', 10000))$$,
  'a comment of 10,000 four-byte characters fits its cap'
);

-- service_role is capped too.
select tests.authenticate_as_service_role();
select throws_ok(
  $$update public.sessions set current_ir = jsonb_build_object('blob', repeat('x', 1048576))
     where id = tests.get_session_id('capped prompt')$$,
  '54000', 'public.sessions.current_ir is 1048588 bytes, over its limit of 1048576 bytes',
  'service_role cannot store an IR over the cap either'
);

-- An operator changes a cap with one UPDATE.
select tests.clear_authentication();
update private.column_limits set max_bytes = 100
 where table_schema = 'public' and table_name = 'comments' and column_name = 'body';
select tests.authenticate_as('alice');
select throws_ok(
  $$insert into public.comments (session_id, body)
    values (tests.get_session_id('capped prompt'), repeat('x', 101))$$,
  '54000', 'public.comments.body is 101 bytes, over its limit of 100 bytes',
  'a lowered cap applies to the next write'
);
select lives_ok(
  $$update public.sessions set status = 'finalized' where prompt = 'capped prompt'$$,
  'an old row over a lowered cap still takes changes to its other columns'
);
select tests.clear_authentication();
update private.column_limits set max_bytes = 2097152
 where table_schema = 'public' and table_name = 'sessions' and column_name = 'current_ir';
select tests.authenticate_as('alice');
select lives_ok(
  $$select public.update_session_ir(tests.get_session_id('capped prompt'),
             jsonb_build_object('blob', repeat('x', 1048576)))$$,
  'a raised cap admits what the old one refused'
);

-- Authors.
select tests.authenticate_as('bob');
select lives_ok(
  $$select public.update_session_ir(tests.get_session_id('capped prompt'), '{"by": "bob"}')$$,
  'the editor writes a version'
);
select throws_ok(
  $$insert into public.session_history (session_id, version, ir_snapshot, author_id)
    values (tests.get_session_id('capped prompt'), 99, '{}', tests.get_supabase_uid('alice'))$$,
  '42501', null,
  'nobody writes a history row, or its author, through the API'
);
select tests.authenticate_as('alice');
select results_eq(
  $$select version, author_id from public.session_history
     where session_id = tests.get_session_id('capped prompt') order by version$$,
  $$values (1, null::uuid), (2, tests.get_supabase_uid('alice')),
           (3, tests.get_supabase_uid('alice')), (4, tests.get_supabase_uid('bob'))$$,
  'the owner sees who wrote each version (the setup wrote version 1 as no user)'
);
select throws_ok(
  $$update public.session_history set author_id = tests.get_supabase_uid('alice')
     where session_id = tests.get_session_id('capped prompt')$$,
  '42501', null,
  'the owner cannot rewrite an author'
);
select tests.authenticate_as_service_role();
select lives_ok(
  $$update public.sessions set current_ir = '{"by": "service"}'
     where id = tests.get_session_id('capped prompt')$$,
  'service_role writes a version'
);
select is(
  (select author_id from public.session_history
    where session_id = tests.get_session_id('capped prompt') and version = 5),
  null,
  'a service_role version has no author'
);
select tests.clear_authentication();
select ok(
  (select not has_column_privilege(r.rolname, 'public.session_history', 'author_id', 'insert')
      and not has_column_privilege(r.rolname, 'public.session_history', 'author_id', 'update')
     from pg_catalog.pg_roles as r where r.rolname = 'authenticated'),
  'authenticated holds no write privilege on author_id'
);
select ok(
  not has_table_privilege('authenticated', 'private.column_limits', 'select')
  and not has_table_privilege('authenticated', 'private.column_limits', 'update')
  and not has_table_privilege('service_role', 'private.column_limits', 'update'),
  'API roles can neither read nor change the caps'
);

select * from finish();
rollback;
