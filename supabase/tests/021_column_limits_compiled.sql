-- The caps are compiled into private.check_column_limits() (20261130300000): the installed code
-- is what private.column_limits and the catalog generate, one UPDATE of the caps takes effect
-- for the next write on every capped table (a partition of analytics_events included), and a
-- cap added for a new column (or a new table) is enforced once it is inserted, with the same
-- SQLSTATE and messages; a deleted cap is no longer enforced. No API role can regenerate it.
begin;
select plan(29);

select tests.create_supabase_user('carol');
select tests.create_supabase_user('dave');
select tests.create_session('carol', 'compiled caps', '{"v": 1}');
select set_config('test.sid', tests.get_session_id('compiled caps')::text, true);
select tests.share_session(current_setting('test.sid')::uuid, 'dave', 'viewer');
select tests.embed_session('compiled caps', tests.planar_embedding(0));
select tests.authenticate_as('carol');
insert into public.comments (session_id, body) values (current_setting('test.sid')::uuid, 'a');
insert into public.repositories (owner, name) values ('o', 'n');
insert into public.user_preferences (settings) values ('{}');
select tests.clear_authentication();

select is(
  (select p.prosrc from pg_catalog.pg_proc as p
    where p.oid = 'private.check_column_limits()'::pg_catalog.regprocedure),
  private.column_limits_function_source(),
  'the installed check is the code the caps and the catalog generate (else a migration that '
  'changed a capped column must run private.compile_column_limits())'
);
select ok(
  (select not p.prosecdef and p.proconfig = array['search_path=pg_catalog, pg_temp']
     from pg_catalog.pg_proc as p
    where p.oid = 'private.check_column_limits()'::pg_catalog.regprocedure),
  'the generated check runs as its caller, with the safe search_path'
);

-- One UPDATE lowers a cap on every capped table; the next write on each is refused.
update private.column_limits set max_bytes = 3
 where table_schema = 'public'
   and (table_name, column_name) in (
     ('sessions', 'prompt'), ('comments', 'body'), ('repositories', 'owner'),
     ('user_preferences', 'settings'), ('analytics_events', 'event_type'),
     ('session_shares', 'role'), ('session_embeddings', 'model'), ('users', 'display_name'));
select throws_ok(
  $$update public.sessions set prompt = 'abcd' where id = current_setting('test.sid')::uuid$$,
  '54000', 'public.sessions.prompt is 4 bytes, over its limit of 3 bytes',
  'sessions: the lowered cap applies to the next write'
);
select throws_ok(
  $$update public.comments set body = 'abcd'
     where session_id = current_setting('test.sid')::uuid$$,
  '54000', 'public.comments.body is 4 bytes, over its limit of 3 bytes',
  'comments: the lowered cap applies to the next write'
);
select throws_ok(
  $$update public.repositories set owner = 'abcd' where name = 'n'$$,
  '54000', 'public.repositories.owner is 4 bytes, over its limit of 3 bytes',
  'repositories: the lowered cap applies to the next write'
);
select throws_ok(
  $$update public.user_preferences set settings = '{"a": 1}'
     where user_id = tests.get_supabase_uid('carol')$$,
  '54000', 'public.user_preferences.settings is 8 bytes, over its limit of 3 bytes',
  'user_preferences: the lowered cap applies to the next write'
);
select throws_ok(
  $$insert into public.analytics_events (user_id, event_type)
    values (tests.get_supabase_uid('carol'), 'abcd')$$,
  '54000', 'public.analytics_events.event_type is 4 bytes, over its limit of 3 bytes',
  'analytics_events (a row routed to a partition): the lowered cap applies to the next write'
);
create table partitions.analytics_events_probe
  partition of public.analytics_events for values from ('2031-01-01') to ('2031-02-01');
select throws_ok(
  $$insert into public.analytics_events (user_id, event_type, created_at)
    values (tests.get_supabase_uid('carol'), 'abcd', '2031-01-15')$$,
  '54000', 'public.analytics_events.event_type is 4 bytes, over its limit of 3 bytes',
  'analytics_events: a partition created after the caps were compiled is covered'
);
select throws_ok(
  $$update public.session_shares set role = 'editor'
     where session_id = current_setting('test.sid')::uuid$$,
  '54000', 'public.session_shares.role is 6 bytes, over its limit of 3 bytes',
  'session_shares: the lowered cap applies to the next write'
);
select throws_ok(
  $$update public.session_embeddings set model = 'abcd'
     where session_id = current_setting('test.sid')::uuid$$,
  '54000', 'public.session_embeddings.model is 4 bytes, over its limit of 3 bytes',
  'session_embeddings: the lowered cap applies to the next write'
);
select throws_ok(
  $$update public.users set display_name = 'abcd' where id = tests.get_supabase_uid('carol')$$,
  '54000', 'public.users.display_name is 4 bytes, over its limit of 3 bytes',
  'users: the lowered cap applies to the next write'
);
select lives_ok(
  $$update public.sessions set status = 'finalized'
     where id = current_setting('test.sid')::uuid$$,
  'an UPDATE that leaves a column over its lowered cap unchanged is not checked against it'
);
select lives_ok(
  $$update public.sessions set prompt = 'abc' where id = current_setting('test.sid')::uuid$$,
  'a value exactly at the cap is accepted'
);

-- Raised again with one UPDATE: the next write is accepted.
update private.column_limits set max_bytes = 80000
 where table_schema = 'public' and table_name = 'sessions' and column_name = 'prompt';
select lives_ok(
  $$update public.sessions set prompt = 'compiled caps, longer'
     where id = current_setting('test.sid')::uuid$$,
  'a raised cap applies to the next write'
);

-- A cap rolled back with its transaction leaves the check as it was.
select throws_ok(
  $q$do $d$
     begin
       update private.column_limits set max_bytes = 1
        where table_schema = 'public' and table_name = 'sessions' and column_name = 'prompt';
       raise exception 'undone';
     end
     $d$$q$,
  'P0001', 'undone',
  'a cap change is rolled back with its transaction'
);
select lives_ok(
  $$update public.sessions set prompt = 'compiled caps'
     where id = current_setting('test.sid')::uuid$$,
  'a cap change that was rolled back is not enforced'
);

-- A new capped column of a capped table, and a new table, are enforced once their caps are
-- inserted.
alter table public.comments add column note text;
select lives_ok(
  $$update public.comments set note = 'abcdef'
     where session_id = current_setting('test.sid')::uuid$$,
  'a new column has no cap before one is inserted'
);
insert into private.column_limits (table_schema, table_name, column_name, max_bytes, max_depth)
values ('public', 'comments', 'note', 5, null);
select throws_ok(
  $$update public.comments set note = 'abcdefg'
     where session_id = current_setting('test.sid')::uuid$$,
  '54000', 'public.comments.note is 7 bytes, over its limit of 5 bytes',
  'the cap inserted for a new column applies to the next write'
);
create table public.caps_probe (id integer primary key, doc json, label varchar(20), tags text[]);
create trigger caps_probe_check_limits
  before insert or update on public.caps_probe
  for each row execute function private.check_column_limits();
insert into private.column_limits (table_schema, table_name, column_name, max_bytes, max_depth)
values ('public', 'caps_probe', 'doc', 20, 2), ('public', 'caps_probe', 'label', 4, null),
       ('public', 'caps_probe', 'tags', 10, null);
select throws_ok(
  $$insert into public.caps_probe (id, doc) values (1, '{"a":  [[1]]}')$$,
  '54000', 'public.caps_probe.doc is nested deeper than 2 levels',
  'a new table''s JSON depth cap applies'
);
select throws_ok(
  $$insert into public.caps_probe (id, doc) values (1, '{"a": "0123456789abcdef"}')$$,
  '54000', 'public.caps_probe.doc is 25 bytes, over its limit of 20 bytes',
  'a json column is measured in its JSON text form'
);
select throws_ok(
  $$insert into public.caps_probe (id, label) values (1, 'héllo')$$,
  '54000', 'public.caps_probe.label is 6 bytes, over its limit of 4 bytes',
  'a varchar column is measured in UTF-8 bytes'
);
select throws_ok(
  $$insert into public.caps_probe (id, tags) values (1, array['abc', 'def'])$$,
  '54000', 'public.caps_probe.tags is 14 bytes, over its limit of 10 bytes',
  'any other type is measured in its JSON text form'
);
select lives_ok(
  $$insert into public.caps_probe (id, doc, label, tags) values (1, '{"a": [1]}', 'abcd', '{a}')$$,
  'values within the new caps are accepted'
);
select lives_ok(
  $$update public.caps_probe set id = 2$$,
  'an UPDATE of uncapped columns passes'
);

-- A deleted cap is no longer enforced.
delete from private.column_limits
 where table_schema = 'public' and table_name = 'comments' and column_name = 'note';
select lives_ok(
  $$update public.comments set note = 'abcdefg'
     where session_id = current_setting('test.sid')::uuid$$,
  'a deleted cap no longer applies'
);
select results_eq(
  $$select s.prompt, s.status, c.note
      from public.sessions as s join public.comments as c on c.session_id = s.id
     where s.id = current_setting('test.sid')::uuid$$,
  $$values ('compiled caps', 'finalized', 'abcdefg')$$,
  'the accepted writes were stored'
);
select is(
  (select p.prosrc from pg_catalog.pg_proc as p
    where p.oid = 'private.check_column_limits()'::pg_catalog.regprocedure),
  private.column_limits_function_source(),
  'after each change of the caps the installed check is the generated one'
);

-- Only the owner regenerates the check.
select ok(
  not pg_catalog.has_function_privilege('authenticated', 'private.compile_column_limits()',
                                        'execute')
  and not pg_catalog.has_function_privilege('service_role', 'private.compile_column_limits()',
                                            'execute')
  and not pg_catalog.has_function_privilege('anon', 'private.compile_column_limits()', 'execute'),
  'no API role may regenerate the check'
);
select ok(
  not pg_catalog.has_table_privilege('service_role', 'private.column_limits', 'insert')
  and not pg_catalog.has_table_privilege('service_role', 'private.column_limits', 'delete')
  and not pg_catalog.has_table_privilege('authenticated', 'private.column_limits', 'insert')
  and not pg_catalog.has_table_privilege('authenticated', 'private.column_limits', 'truncate'),
  'no API role may change the caps'
);

select * from finish();
rollback;
