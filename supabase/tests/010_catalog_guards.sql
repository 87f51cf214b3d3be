-- Rules every table, policy and function must keep, read from the catalog so that objects added
-- by later migrations are checked without editing this file. First the schema as migrated keeps
-- them all; then, inside this rolled-back transaction, deliberately bad objects prove that each
-- guard does catch what it is meant to catch.
begin;
select plan(41);

-- The schema as migrated.
select ok(
  (select count(*) from pg_catalog.pg_class as c
    where c.relnamespace = 'public'::regnamespace and c.relkind = 'r') >= 3,
  'the guards have tables to inspect in public'
);
select is_empty('select * from tests.tables_without_rls()',
                'every table in an exposed schema has RLS enabled and a policy');
select is_empty('select * from tests.policies_for_public_or_anon()',
                'no policy targets public or anon');
select is_empty('select * from tests.unindexed_foreign_keys()',
                'every foreign key is covered by an index');
select is_empty('select * from tests.policies_with_bare_auth_calls()',
                'every auth.uid()/auth.jwt() in a policy is wrapped in a select');
select is_empty('select * from tests.unsafe_security_definer_functions()',
                'every SECURITY DEFINER function has a fixed search_path and is outside public');
select is_empty('select * from tests.unsafe_definer_reachable_functions()',
                'every function definer code or a policy can reach searches pg_catalog first '
                'and pg_temp last, or (a platform helper) inherits its caller''s path');
select is_empty(
  $$select p.oid::regprocedure
      from pg_catalog.pg_proc as p
     where p.oid in ('auth.uid()'::regprocedure, 'auth.role()'::regprocedure,
                     'auth.email()'::regprocedure, 'auth.jwt()'::regprocedure)
       and not (p.prolang = (select l.oid from pg_catalog.pg_language as l where l.lanname = 'sql')
                and p.provolatile = 's' and not p.prosecdef and p.proconfig is null
                and p.prosrc !~ '::\s*(?!pg_catalog\.)[a-z"]'
                and p.prosrc !~ '(?<!pg_catalog\.)current_setting')$$,
  'auth.uid() & co. have Supabase Auth''s shape (sql, stable, no SET clause: inlined) and '
  'qualify every type and function they name'
);
select is_empty('select * from tests.unlimited_api_writable_columns()',
                'every text and JSON column an API role can write has a size (and depth) cap');
select is_empty('select * from tests.multiple_permissive_policies()',
                'at most one permissive policy per table, role and action');
select is_empty('select * from tests.always_true_write_policies()',
                'no write policy is always true');
select is_empty('select * from tests.anon_privileges()',
                'anon holds no privilege on any table, view or function in an exposed schema');
select is_empty('select * from tests.views_bypassing_rls()',
                'no view in an exposed schema bypasses RLS');
select is_empty('select * from tests.unordered_trigger_names()',
                'every trigger name states its firing order, or predates the rule');

-- A table as a careless migration would leave it: Supabase's default grants open it to anon.
create table public.guard_probe_open (id integer primary key, owner_id uuid);
select ok(
  'public.guard_probe_open' in (select relation from tests.tables_without_rls()),
  'a table without RLS is caught'
);
select ok(
  'public.guard_probe_open' in (select object from tests.anon_privileges()),
  'a table anon can reach is caught'
);

alter table public.guard_probe_open enable row level security;
select is(
  (select problem from tests.tables_without_rls() where relation = 'public.guard_probe_open'),
  'row level security is enabled but the table has no policy',
  'RLS without any policy is caught'
);

create policy guard_probe_bare on public.guard_probe_open
  for select to authenticated using (owner_id = auth.uid());
select ok(
  'public.guard_probe_open' not in (select relation from tests.tables_without_rls()),
  'RLS with a policy passes the RLS guard'
);
select ok(
  'guard_probe_bare on public.guard_probe_open'
    in (select policy from tests.policies_with_bare_auth_calls()),
  'auth.uid() called per row is caught'
);

create policy guard_probe_mixed on public.guard_probe_open
  for select to authenticated
  using (owner_id = (select auth.uid()) or (auth.jwt() ->> 'role') = 'admin');
select ok(
  'guard_probe_mixed on public.guard_probe_open'
    in (select policy from tests.policies_with_bare_auth_calls()),
  'one bare call next to a wrapped one is caught'
);
select ok(
  'public.guard_probe_open' in (select relation from tests.multiple_permissive_policies()),
  'two permissive select policies for authenticated are caught'
);

create policy guard_probe_public on public.guard_probe_open
  for update using (owner_id = (select auth.uid()));
create policy guard_probe_anon on public.guard_probe_open
  for delete to anon using (owner_id = (select auth.uid()));
select set_eq(
  $$select policy from tests.policies_for_public_or_anon()
     where policy like '% on public.guard_probe_open'$$,
  array['guard_probe_public on public.guard_probe_open',
        'guard_probe_anon on public.guard_probe_open'],
  'policies for public and for anon are caught'
);

create policy guard_probe_open_insert on public.guard_probe_open
  for insert to authenticated with check (true);
select ok(
  'guard_probe_open_insert on public.guard_probe_open'
    in (select policy from tests.always_true_write_policies()),
  'an insert policy that is always true is caught'
);

-- Trigger names: a name that says only what the trigger does is caught; one with its place in
-- the firing order passes; so does a partition's clone, judged on its parent.
create trigger guard_probe_touch
  before update on public.guard_probe_open
  for each row execute function private.touch_updated_at();
create trigger guard_probe_open_5_touch
  before update on public.guard_probe_open
  for each row execute function private.touch_updated_at();
create trigger guard_probe_open_900_touch_updated_at
  before update on public.guard_probe_open
  for each row execute function private.touch_updated_at();
select set_eq(
  $$select trigger, problem from tests.unordered_trigger_names() where trigger like '% on public.guard_probe_open'$$,
  $$values ('guard_probe_touch on public.guard_probe_open',
            'the name does not state the firing order: guard_probe_open_<nnn>_<what>'),
           ('guard_probe_open_5_touch on public.guard_probe_open',
            'the name does not state the firing order: guard_probe_open_<nnn>_<what>')$$,
  'trigger names without a three-digit place after the table name are caught, by name'
);
create function private.guard_probe_on_signup() returns trigger
language plpgsql set search_path = pg_catalog, pg_temp as $$ begin return new; end $$;
create trigger on_guard_probe_signup
  after insert on auth.users
  for each row execute function private.guard_probe_on_signup();
select ok(
  'on_guard_probe_signup on auth.users' in (select trigger from tests.unordered_trigger_names()),
  'a trigger the app attaches to a platform table is held to the rule too'
);
select ok(
  not exists (select from tests.unordered_trigger_names() where trigger like '% on partitions.%'),
  'the partitions'' clones of their parent''s triggers are judged on the parent'
);

-- Foreign keys: uncovered, covered by the wrong column order, then covered.
create table public.guard_probe_child (
  id integer primary key,
  parent_id integer references public.guard_probe_open (id),
  a integer,
  b integer,
  constraint guard_probe_pair unique (b, a)
);
create table public.guard_probe_grandchild (
  id integer primary key,
  a integer,
  b integer,
  constraint guard_probe_pair_fk foreign key (a, b) references public.guard_probe_child (a, b)
);
select ok(
  exists (select from tests.unindexed_foreign_keys()
           where relation = 'public.guard_probe_child' and problem like '%(parent_id)%'),
  'a foreign key without an index is caught'
);
create index guard_probe_grandchild_b_idx on public.guard_probe_grandchild (b);
select ok(
  exists (select from tests.unindexed_foreign_keys() where relation = 'public.guard_probe_grandchild'),
  'an index on a later column of a two-column foreign key does not cover it'
);
create index guard_probe_child_parent_partial_idx on public.guard_probe_child (parent_id)
  where parent_id > 0;
select ok(
  exists (select from tests.unindexed_foreign_keys() where relation = 'public.guard_probe_child'),
  'a partial index does not cover a foreign key'
);
create index guard_probe_child_parent_id_idx on public.guard_probe_child (parent_id);
create index guard_probe_grandchild_b_a_idx on public.guard_probe_grandchild (b, a);
select ok(
  not exists (select from tests.unindexed_foreign_keys()
               where relation in ('public.guard_probe_child', 'public.guard_probe_grandchild')),
  'indexes leading with the foreign key columns, in any order, cover them'
);

-- Functions.
create function public.guard_probe_definer() returns integer
language sql security definer set search_path = '' as $$ select 1 $$;
create function private.guard_probe_mutable() returns integer
language sql security definer as $$ select 1 $$;
select set_eq(
  $$select function, problem from tests.unsafe_security_definer_functions()
     where function like '%guard_probe%'$$,
  $$values ('public.guard_probe_definer()', 'security definer function in an exposed schema'),
           ('private.guard_probe_mutable()',
            'security definer function without a fixed search_path')$$,
  'a definer function in public and one with a mutable search_path are caught'
);
select ok(
  'public.guard_probe_definer()' in (select object from tests.anon_privileges()),
  'a function in public that anon may execute is caught'
);

-- search_path: '' and pg_temp first are caught, in the app's schemas and in the helpers'.
create function private.path_probe_empty() returns integer
language sql security definer set search_path = '' as $$ select 1 $$;
create function private.path_probe_temp_first() returns integer
language sql security definer set search_path = pg_temp, pg_catalog as $$ select 1 $$;
create function tests.path_probe_helper() returns integer
language sql security definer set search_path = public as $$ select 1 $$;
create function private.path_probe_safe() returns integer
language sql security definer set search_path = pg_catalog, public, pg_temp as $$ select 1 $$;
select set_eq(
  $$select function, problem from tests.unsafe_security_definer_functions()
     where function like '%path_probe%'$$,
  $$values ('private.path_probe_empty()',
            'security definer function with search_path "": pg_catalog must come first and '
            'pg_temp last'),
           ('private.path_probe_temp_first()',
            'security definer function with search_path pg_temp, pg_catalog: pg_catalog must '
            'come first and pg_temp last'),
           ('tests.path_probe_helper()',
            'security definer function with search_path public: pg_catalog must come first and '
            'pg_temp last')$$,
  'definer functions searching pg_temp first or not naming it are caught, by name'
);
select ok(
  'private.path_probe_safe()' not in (select function from tests.unsafe_security_definer_functions()),
  'pg_catalog first and pg_temp last passes'
);

-- What definer code reaches: an app function without a search_path, and a function a policy
-- calls that sets an unsafe one.
create function private.path_probe_invoker() returns integer
language sql as $$ select 1 $$;
create function extensions.path_probe_policy_check(id integer) returns boolean
language sql stable set search_path = '' as $$ select id > 0 $$;
create function extensions.path_probe_policy_inlined(id integer) returns boolean
language sql stable as $$ select id > 0 $$;
create policy path_probe_policy on public.guard_probe_open
  for delete to authenticated
  using (extensions.path_probe_policy_check(id) and extensions.path_probe_policy_inlined(id));
select set_eq(
  $$select function from tests.unsafe_definer_reachable_functions()
     where function like '%path_probe%'$$,
  array['private.path_probe_invoker()', 'extensions.path_probe_policy_check(integer)',
        'private.path_probe_empty()', 'private.path_probe_temp_first()',
        'tests.path_probe_helper()'],
  'app functions without the safe path, and a policy''s function with an unsafe one, are caught'
);
select is(
  (select problem from tests.unsafe_definer_reachable_functions()
    where function = 'private.path_probe_invoker()'),
  'function reachable from definer code or a policy without a fixed search_path',
  'the problem names what is missing'
);

-- Size caps: a text and a JSON column authenticated may write, with no cap; then capped without
-- a depth; then with the trigger.
create table public.cap_probe (id integer primary key, note text, doc jsonb, n integer);
grant insert (id, note, n) on table public.cap_probe to authenticated;
grant update (doc) on table public.cap_probe to authenticated;
select set_eq(
  $$select column_name, problem from tests.unlimited_api_writable_columns()
     where column_name like 'public.cap_probe.%'$$,
  $$values ('public.cap_probe.note', 'no size cap in private.column_limits'),
           ('public.cap_probe.doc', 'no size cap in private.column_limits')$$,
  'API-writable text and JSON columns without a cap are caught, by name (integers are not)'
);
insert into private.column_limits (table_schema, table_name, column_name, max_bytes, max_depth)
values ('public', 'cap_probe', 'note', 100, null), ('public', 'cap_probe', 'doc', 100, null);
select set_eq(
  $$select column_name, problem from tests.unlimited_api_writable_columns()
     where column_name like 'public.cap_probe.%'$$,
  $$values ('public.cap_probe.note',
            'no enabled trigger runs private.check_column_limits() before insert and update'),
           ('public.cap_probe.doc', 'no depth cap in private.column_limits')$$,
  'a JSON column without a depth cap, and caps no trigger enforces, are caught'
);
update private.column_limits set max_depth = 100
 where table_name = 'cap_probe' and column_name = 'doc';
create trigger cap_probe_check_limits
  before insert or update on public.cap_probe
  for each row execute function private.check_column_limits();
select is_empty(
  $$select * from tests.unlimited_api_writable_columns()
     where column_name like 'public.cap_probe.%'$$,
  'capped columns with their trigger pass'
);

create view public.guard_probe_view as select id from public.guard_probe_open;
select ok(
  'public.guard_probe_view' in (select relation from tests.views_bypassing_rls()),
  'a view that runs with its owner''s rights is caught'
);
alter view public.guard_probe_view set (security_invoker = true);
select ok(
  'public.guard_probe_view' not in (select relation from tests.views_bypassing_rls()),
  'a security_invoker view passes'
);

select * from finish();
rollback;
