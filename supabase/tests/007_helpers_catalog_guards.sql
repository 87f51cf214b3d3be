-- The building blocks of the catalog guards in 002_setup_catalog_guards.sql do what their doc
-- blocks say, and so do the parts of each guard's rule that 010_catalog_guards.sql does not
-- probe: which schemas count, partitioned tables, FOR ALL policies, column grants. Every bad
-- object is created inside this rolled-back transaction.
begin;
select plan(27);

-- tests.exposed_schemas
select is(tests.exposed_schemas(), array['public', 'graphql_public']::name[],
          'exposed_schemas are the [api] schemas of supabase/config.toml');

-- tests.app_schemas
select ok(array['public', 'private', 'partitions']::name[] <@ array(select tests.app_schemas()),
          'app_schemas holds the schemas the migrations made');
select is_empty(
  $$select s from tests.app_schemas() as s
     where s in ('pg_catalog', 'pg_toast', 'information_schema', 'auth', 'extensions',
                 'supabase_migrations', 'tests')
        or s like 'pg\_temp\_%' or s like 'pg\_toast\_temp\_%'$$,
  'app_schemas leaves out the system''s, the platform''s and the helpers'' schemas'
);
create schema guard_probe_new;
select ok('guard_probe_new' in (select tests.app_schemas()),
          'a schema a later migration creates is an app schema at once');

-- tests.search_path_problem
select is(tests.search_path_problem(null), 'without a fixed search_path',
          'search_path_problem: no setting at all');
select is(tests.search_path_problem(array['work_mem=64kB']), 'without a fixed search_path',
          'search_path_problem: other settings but no search_path');
select is(tests.search_path_problem(array['search_path=""']),
          'with search_path "": pg_catalog must come first and pg_temp last',
          'search_path_problem: the empty search_path');
select is(tests.search_path_problem(array['search_path=pg_catalog']),
          'with search_path pg_catalog: pg_catalog must come first and pg_temp last',
          'search_path_problem: pg_temp not named');
select is(tests.search_path_problem(array['search_path=pg_temp, pg_catalog']),
          'with search_path pg_temp, pg_catalog: pg_catalog must come first and pg_temp last',
          'search_path_problem: pg_temp first');
select is(tests.search_path_problem(array['search_path=public, pg_catalog, pg_temp']),
          'with search_path public, pg_catalog, pg_temp: pg_catalog must come first and pg_temp last',
          'search_path_problem: another schema before pg_catalog');
select is(tests.search_path_problem(array['search_path=pg_catalog, pg_temp']), null,
          'search_path_problem: pg_catalog first and pg_temp last is safe');
select is(tests.search_path_problem(array['work_mem=64kB', 'search_path="pg_catalog", public, "pg_temp"']),
          null, 'search_path_problem: quoted names and schemas in between are safe');

-- tests.tables_without_rls: partitioned tables count; only exposed schemas are its business.
create table public.guard_probe_parted (id integer, at date) partition by range (at);
create table private.guard_probe_hidden (id integer primary key);
select ok('public.guard_probe_parted' in (select relation from tests.tables_without_rls()),
          'a partitioned table without RLS is caught');
select ok('private.guard_probe_hidden' not in (select relation from tests.tables_without_rls()),
          'a table outside the exposed schemas is not the RLS guard''s business');

-- tests.unindexed_foreign_keys: in any app schema, not only the exposed ones.
create table guard_probe_new.child (id integer primary key,
                                    parent_id integer references private.guard_probe_hidden (id));
select ok('guard_probe_new.child' in (select relation from tests.unindexed_foreign_keys()),
          'an unindexed foreign key in a new app schema is caught');

-- tests.multiple_permissive_policies: a FOR ALL policy counts for each action; restrictive
-- policies do not widen access and do not count.
create table public.guard_probe_policies (id integer primary key, owner_id uuid);
alter table public.guard_probe_policies enable row level security;
create policy guard_probe_all on public.guard_probe_policies
  for all to authenticated using (owner_id = (select auth.uid()));
create policy guard_probe_restrictive on public.guard_probe_policies
  as restrictive for select to authenticated using (id > 0);
select is_empty(
  $$select * from tests.multiple_permissive_policies() where relation = 'public.guard_probe_policies'$$,
  'one FOR ALL policy and a restrictive one are not several permissive ones'
);
create policy guard_probe_read on public.guard_probe_policies
  for select to authenticated using (true);
select is(
  (select problem from tests.multiple_permissive_policies() where relation = 'public.guard_probe_policies'),
  '2 permissive select policies for authenticated: guard_probe_all, guard_probe_read',
  'a select policy next to a FOR ALL policy is caught, with both names'
);

-- tests.always_true_write_policies: reads may be open to every signed-in user, writes may not.
select ok('guard_probe_read on public.guard_probe_policies'
            not in (select policy from tests.always_true_write_policies()),
          'a select policy that is always true is not a write policy');
create policy guard_probe_update on public.guard_probe_policies
  for update to authenticated using (owner_id = (select auth.uid())) with check (true);
create policy guard_probe_delete on public.guard_probe_policies
  for delete to authenticated using (true);
select set_eq(
  $$select policy from tests.always_true_write_policies() where policy like '% on public.guard_probe_policies'$$,
  array['guard_probe_update on public.guard_probe_policies',
        'guard_probe_delete on public.guard_probe_policies'],
  'an update whose check is always true and a delete that is always allowed are caught'
);

-- tests.policies_for_public_or_anon: only the role list matters.
create policy guard_probe_anon_read on private.guard_probe_hidden for select to anon, authenticated using (true);
select ok('guard_probe_anon_read on private.guard_probe_hidden'
            in (select policy from tests.policies_for_public_or_anon()),
          'a policy for anon among other roles, in any app schema, is caught');

-- tests.anon_privileges: column grants count; only exposed schemas are its business.
revoke all on table public.guard_probe_policies from anon;
select ok('public.guard_probe_policies' not in (select object from tests.anon_privileges()),
          'a table with Supabase''s default grants revoked from anon passes');
grant update (owner_id) on table public.guard_probe_policies to anon;
select is(
  (select problem from tests.anon_privileges() where object = 'public.guard_probe_policies'),
  'anon holds update',
  'a column grant to anon is caught, and named'
);
create function private.guard_probe_fn() returns integer
language sql set search_path = pg_catalog, pg_temp as $$ select 1 $$;
grant execute on function private.guard_probe_fn() to anon;
select ok('private.guard_probe_fn()' not in (select object from tests.anon_privileges()),
          'a function outside the exposed schemas is not the anon guard''s business');

-- tests.views_bypassing_rls: every spelling of security_invoker passes.
create view public.guard_probe_on with (security_invoker = on) as select 1 as one;
create view public.guard_probe_yes with (security_invoker = yes) as select 1 as one;
create view public.guard_probe_off with (security_invoker = off) as select 1 as one;
select set_eq(
  $$select relation from tests.views_bypassing_rls() where relation like 'public.guard\_probe\_%'$$,
  array['public.guard_probe_off'],
  'security_invoker = on or yes passes, security_invoker = off is caught'
);

-- tests.unsafe_security_definer_functions: the helpers' own schema is checked too, and the
-- helpers as installed pass.
select is_empty($$select * from tests.unsafe_security_definer_functions() where function like 'tests.%'$$,
                'every SECURITY DEFINER helper has the safe search_path');
select is_empty($$select * from tests.unsafe_definer_reachable_functions() where function like 'tests.%'$$,
                'every helper has the safe search_path');
select isnt_empty(
  $$select p.oid from pg_catalog.pg_proc as p
     where p.pronamespace = 'tests'::regnamespace and p.prosecdef$$,
  'there are SECURITY DEFINER helpers for that guard to read'
);

select * from finish();
rollback;
