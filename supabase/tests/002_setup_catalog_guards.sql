-- The test helpers, part 3 of 3: catalog guards. Each guard is a set-returning function that
-- lists the objects breaking one rule of the brief, one row per object: what it is and what is
-- wrong with it. They read the catalog, so tables, policies and functions that later migrations
-- add are checked without editing any test. Use a guard two ways: assert that it returns nothing
-- on the migrated schema (010_catalog_guards.sql does, for every guard), and prove that it
-- catches a deliberately bad object created inside the rolled-back test transaction (010 again).
-- A new rule becomes a new guard here, its two tests there. Installed after
-- 001_setup_fixtures.sql (schema `tests` is made by 000_setup_identity.sql: read its header);
-- the small building blocks are tested in 007_helpers_catalog_guards.sql.

-- tests.exposed_schemas() -> name[]
-- The schemas the API serves: `schemas` of [api] in supabase/config.toml. Change it with that
-- setting. The guards about anon, RLS and views look only here.
create or replace function tests.exposed_schemas() returns name[]
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  select array['public', 'graphql_public']::name[]
$$;

-- tests.app_schemas() -> setof name
-- The schemas the project's migrations own: every schema but the system's, the platform's (they
-- exist on every Supabase project and are not ours to lint) and these helpers'. A schema a new
-- migration creates is in it at once; a new platform schema must be added to the list below.
create or replace function tests.app_schemas() returns setof name
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select n.nspname
    from pg_catalog.pg_namespace as n
   where n.nspname !~ '^pg_'
     and n.nspname <> 'information_schema'
     and n.nspname <> all (array[
       'auth', 'storage', 'realtime', '_realtime', 'graphql', 'graphql_public', 'vault',
       'extensions', 'pgbouncer', 'pgsodium', 'pgsodium_masks', 'supabase_functions',
       'supabase_migrations', 'net', 'cron', '_analytics', 'pgtle', 'tests'
     ]::name[])
$$;

-- tests.tables_without_rls() -> (relation, problem)
-- Tables (partitioned ones included) in an exposed schema without row level security, or with
-- it and no policy (which reads as "nobody", but says nothing of who should).
create or replace function tests.tables_without_rls()
returns table (relation text, problem text)
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select format('%I.%I', n.nspname, c.relname),
         case when not c.relrowsecurity then 'row level security is disabled'
              else 'row level security is enabled but the table has no policy' end
    from pg_catalog.pg_class as c
    join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
   where n.nspname = any (tests.exposed_schemas())
     and c.relkind in ('r', 'p')
     and (
       not c.relrowsecurity
       or not exists (select from pg_catalog.pg_policy as p where p.polrelid = c.oid)
     )
$$;

-- tests.policies_for_public_or_anon() -> (policy, problem)
-- Policies of the app's schemas that apply to PUBLIC (no `to` clause: every role) or to anon.
-- Policies are `to authenticated`; anon gets nothing.
create or replace function tests.policies_for_public_or_anon()
returns table (policy text, problem text)
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select format('%I on %I.%I', p.polname, n.nspname, c.relname),
         case when 0::oid = any (p.polroles) then 'applies to public (every role, anon included)'
              else 'applies to anon' end
    from pg_catalog.pg_policy as p
    join pg_catalog.pg_class as c on c.oid = p.polrelid
    join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
   where n.nspname in (select tests.app_schemas())
     and (
       0::oid = any (p.polroles)
       or (select r.oid from pg_catalog.pg_roles as r where r.rolname = 'anon') = any (p.polroles)
     )
$$;

-- tests.unindexed_foreign_keys() -> (relation, problem)
-- Foreign keys of the app's schemas that no index covers. A key is covered when a valid,
-- non-partial index starts with exactly its columns, in any order; without one, a delete of the
-- referenced row scans the whole referencing table.
create or replace function tests.unindexed_foreign_keys()
returns table (relation text, problem text)
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select format('%I.%I', n.nspname, c.relname),
         format('foreign key %I (%s) has no index starting with its columns', con.conname,
                (select string_agg(a.attname, ', ' order by k.ord)
                   from unnest(con.conkey) with ordinality as k (attnum, ord)
                   join pg_catalog.pg_attribute as a
                     on a.attrelid = con.conrelid and a.attnum = k.attnum))
    from pg_catalog.pg_constraint as con
    join pg_catalog.pg_class as c on c.oid = con.conrelid
    join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
   where con.contype = 'f'
     and n.nspname in (select tests.app_schemas())
     and not exists (
       select
         from pg_catalog.pg_index as i
         cross join lateral (
           select (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(con.conkey)]
                    as lead_columns
         ) as l
        where i.indrelid = con.conrelid
          and i.indisvalid
          and i.indpred is null
          and l.lead_columns @> con.conkey
          and l.lead_columns <@ con.conkey
     )
$$;

-- tests.policies_with_bare_auth_calls() -> (policy, problem)
-- Policies calling auth.uid(), auth.jwt(), auth.role() or auth.email() outside a select. Those
-- read a setting per call, so per row; wrapped as `(select auth.uid())` they run once per
-- statement. Every call in a policy expression must be the start of a select.
create or replace function tests.policies_with_bare_auth_calls()
returns table (policy text, problem text)
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select format('%I on %I.%I', p.polname, n.nspname, c.relname),
         format('calls auth.uid()/auth.jwt() outside a select: %s', e.expr)
    from pg_catalog.pg_policy as p
    join pg_catalog.pg_class as c on c.oid = p.polrelid
    join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
    cross join lateral (
      values (pg_catalog.pg_get_expr(p.polqual, p.polrelid)),
             (pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid))
    ) as e (expr)
   where n.nspname in (select tests.app_schemas())
     and e.expr is not null
     and regexp_count(e.expr, 'auth\.(uid|jwt|role|email)\(\)')
         > regexp_count(e.expr, 'select\s+\(*\s*auth\.(uid|jwt|role|email)\(\)', 1, 'i')
$$;

-- tests.search_path_problem(proconfig) -> text
-- What is wrong with a function's search_path setting, given its pg_proc.proconfig (null:
-- nothing). Without pg_temp named, PostgreSQL searches the caller's temporary schema FIRST for
-- relations and types, so `''` is not safe; the safe form names pg_catalog first (built-ins win)
-- and pg_temp last. The two guards below use it; a test rarely needs it directly.
create or replace function tests.search_path_problem(config pg_catalog.text[])
returns pg_catalog.text
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  with setting as (
    select pg_catalog.substr(c, pg_catalog.length('search_path=') + 1) as value
      from pg_catalog.unnest(config) as c
     where c like 'search_path=%'
  ),
  parts as (
    select st.value,
           pg_catalog.array_agg(pg_catalog.btrim(part, ' "') order by ord) as schemas
      from setting as st
      cross join lateral pg_catalog.unnest(pg_catalog.string_to_array(st.value, ','))
        with ordinality as x (part, ord)
     group by st.value
  )
  select case
           when not exists (select from setting) then 'without a fixed search_path'
           when not exists (select from parts) then 'with search_path "": pg_catalog must come '
                                                   'first and pg_temp last'
           else (select case when pt.schemas[1] = 'pg_catalog'
                                  and pt.schemas[pg_catalog.cardinality(pt.schemas)] = 'pg_temp'
                             then null
                             else pg_catalog.format('with search_path %s: pg_catalog must come '
                                                    'first and pg_temp last', pt.value) end
                   from parts as pt)
         end
$$;

-- tests.unsafe_security_definer_functions() -> (function, problem)
-- SECURITY DEFINER functions of the app and of these helpers that sit in an exposed schema, or
-- whose search_path is not pg_catalog first and pg_temp last (see search_path_problem).
-- Extensions' own functions are not ours and are left out.
create or replace function tests.unsafe_security_definer_functions()
returns table (function text, problem text)
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select f.function, f.problem
    from (
      select p.oid::pg_catalog.regprocedure::pg_catalog.text as function,
             case when n.nspname = any (tests.exposed_schemas())
                  then 'security definer function in an exposed schema'
                  else 'security definer function ' || tests.search_path_problem(p.proconfig)
             end as problem
        from pg_catalog.pg_proc as p
        join pg_catalog.pg_namespace as n on n.oid = p.pronamespace
       where p.prosecdef
         and (n.nspname in (select tests.app_schemas())
              or n.nspname = any (tests.exposed_schemas())
              or n.nspname = 'tests')
         and not exists (
           select from pg_catalog.pg_depend as d
            where d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass and d.objid = p.oid
              and d.deptype = 'e'
         )
    ) as f
   where f.problem is not null
$$;

-- tests.unsafe_definer_reachable_functions() -> (function, problem)
-- Functions that can run as a definer's owner without the safe search_path. They are: every
-- function of the app and of these helpers (trigger functions run as the table owner when
-- definer code or a cascade writes; invoker functions are called from definer code), every
-- function a policy calls, and the platform's auth.* helpers that definer code calls. The app's
-- own must set the safe search_path. A platform function may set none (Supabase's auth.uid()
-- sets none, so that it is inlined: it then runs under its definer caller's safe path), but one
-- that sets a search_path must set the safe one: `set search_path = ''` would search the
-- caller's pg_temp first again.
create or replace function tests.unsafe_definer_reachable_functions()
returns table (function text, problem text)
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select p.oid::pg_catalog.regprocedure::pg_catalog.text,
         'function reachable from definer code or a policy '
         || tests.search_path_problem(p.proconfig)
    from pg_catalog.pg_proc as p
    join pg_catalog.pg_namespace as n on n.oid = p.pronamespace
   where not exists (
           select from pg_catalog.pg_depend as d
            where d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass and d.objid = p.oid
              and d.deptype = 'e'
         )
     and tests.search_path_problem(p.proconfig) is not null
     and (
       n.nspname in (select tests.app_schemas())
       or n.nspname = 'tests'
       or (
         (n.nspname = 'auth'
          or p.oid in (
            select d.refobjid
              from pg_catalog.pg_depend as d
              join pg_catalog.pg_policy as pol on pol.oid = d.objid
             where d.classid = 'pg_catalog.pg_policy'::pg_catalog.regclass
               and d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
          ))
         and p.proconfig is not null
         and exists (select from pg_catalog.unnest(p.proconfig) as c where c like 'search_path=%')
       )
     )
$$;

-- tests.unlimited_api_writable_columns() -> (column_name, problem)
-- Text and JSON columns that anon or authenticated may write (INSERT or UPDATE, column grants
-- included) without a size cap in private.column_limits, JSON ones without a depth cap, or on a
-- table without the trigger that enforces the caps (caps of a partitioned table cover its
-- partitions). What an API role stores must have a ceiling.
create or replace function tests.unlimited_api_writable_columns()
returns table (column_name text, problem text)
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  with writable as (
    select n.nspname, c.relname, c.oid as relid, a.attname,
           a.atttypid in ('pg_catalog.json'::pg_catalog.regtype,
                          'pg_catalog.jsonb'::pg_catalog.regtype) as is_json
      from pg_catalog.pg_attribute as a
      join pg_catalog.pg_class as c on c.oid = a.attrelid
      join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
      join pg_catalog.pg_type as t on t.oid = a.atttypid
     where c.relkind in ('r', 'p')
       and not c.relispartition
       and a.attnum > 0
       and not a.attisdropped
       and (t.typcategory = 'S' or a.atttypid in ('pg_catalog.json'::pg_catalog.regtype,
                                                  'pg_catalog.jsonb'::pg_catalog.regtype))
       and n.nspname !~ '^pg_' and n.nspname <> 'information_schema'
       and exists (
         select
           from pg_catalog.unnest(array['anon', 'authenticated']) as r (role)
           cross join pg_catalog.unnest(array['INSERT', 'UPDATE']) as p (privilege)
          where pg_catalog.has_column_privilege(r.role, c.oid, a.attnum, p.privilege)
       )
  )
  select pg_catalog.format('%I.%I.%I', w.nspname, w.relname, w.attname),
         case
           when l.max_bytes is null then 'no size cap in private.column_limits'
           when w.is_json and l.max_depth is null then 'no depth cap in private.column_limits'
           else 'no enabled trigger runs private.check_column_limits() before insert and update'
         end
    from writable as w
    left join private.column_limits as l
      on l.table_schema = w.nspname and l.table_name = w.relname and l.column_name = w.attname
   where l.max_bytes is null
      or (w.is_json and l.max_depth is null)
      or not exists (
        select
          from pg_catalog.pg_trigger as tg
         where tg.tgrelid = w.relid
           and tg.tgfoid = 'private.check_column_limits()'::pg_catalog.regprocedure
           and tg.tgenabled <> 'D'
           -- row, before, insert and update
           and tg.tgtype::pg_catalog.int4 & (1 | 2 | 4 | 16) = (1 | 2 | 4 | 16)
      )
$$;

-- tests.multiple_permissive_policies() -> (relation, problem)
-- Tables with more than one permissive policy for the same role and action (a FOR ALL policy
-- counts for each action). Postgres ORs them, so each one widens access and every one is
-- evaluated on every row.
create or replace function tests.multiple_permissive_policies()
returns table (relation text, problem text)
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  with per_action as (
    select n.nspname, c.relname, p.polname, a.action,
           case when r.role_oid = 0 then 'public' else pg_catalog.pg_get_userbyid(r.role_oid) end
             as role_name
      from pg_catalog.pg_policy as p
      join pg_catalog.pg_class as c on c.oid = p.polrelid
      join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
      cross join lateral unnest(
        case p.polcmd when '*' then array['select', 'insert', 'update', 'delete']
                      when 'r' then array['select'] when 'a' then array['insert']
                      when 'w' then array['update'] else array['delete'] end
      ) as a (action)
      cross join lateral unnest(p.polroles) as r (role_oid)
     where p.polpermissive
       and n.nspname in (select tests.app_schemas())
  )
  select format('%I.%I', nspname, relname),
         format('%s permissive %s policies for %s: %s', count(*), action, role_name,
                string_agg(polname, ', ' order by polname))
    from per_action
   group by nspname, relname, action, role_name
  having count(*) > 1
$$;

-- tests.always_true_write_policies() -> (policy, problem)
-- Insert, update, delete and FOR ALL policies whose USING or WITH CHECK is literally true: a
-- write policy that lets anyone write anything is a missing policy.
create or replace function tests.always_true_write_policies()
returns table (policy text, problem text)
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select format('%I on %I.%I', p.polname, n.nspname, c.relname),
         'write policy whose condition is always true'
    from pg_catalog.pg_policy as p
    join pg_catalog.pg_class as c on c.oid = p.polrelid
    join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
   where p.polcmd in ('a', 'w', 'd', '*')
     and n.nspname in (select tests.app_schemas())
     and (
       pg_catalog.pg_get_expr(p.polqual, p.polrelid) = 'true'
       or pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) = 'true'
     )
$$;

-- tests.anon_privileges() -> (object, problem)
-- Tables, views and functions of an exposed schema on which anon holds any privilege (column
-- grants included). anon reaches the API without signing in, and Supabase's default grants open
-- every new object to it: each migration must revoke them.
create or replace function tests.anon_privileges()
returns table (object text, problem text)
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select format('%I.%I', n.nspname, c.relname),
         format('anon holds %s', string_agg(priv.name, ', ' order by priv.name))
    from pg_catalog.pg_class as c
    join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
    cross join lateral (
      values ('select'), ('insert'), ('update'), ('delete'), ('truncate'), ('references'),
             ('trigger')
    ) as priv (name)
   where n.nspname = any (tests.exposed_schemas())
     and c.relkind in ('r', 'p', 'v', 'm', 'f')
     and case when priv.name in ('select', 'insert', 'update', 'references')
              then has_any_column_privilege('anon', c.oid, priv.name)
              else has_table_privilege('anon', c.oid, priv.name) end
   group by n.nspname, c.relname
  union all
  select p.oid::regprocedure::text, 'anon may execute it'
    from pg_catalog.pg_proc as p
    join pg_catalog.pg_namespace as n on n.oid = p.pronamespace
   where n.nspname = any (tests.exposed_schemas())
     and has_function_privilege('anon', p.oid, 'execute')
     and not exists (
       select from pg_catalog.pg_depend as d
        where d.classid = 'pg_catalog.pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e'
     )
$$;

-- tests.views_bypassing_rls() -> (relation, problem)
-- Views of an exposed schema without security_invoker. Such a view runs with its owner's
-- rights, and so past RLS.
create or replace function tests.views_bypassing_rls()
returns table (relation text, problem text)
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select format('%I.%I', n.nspname, c.relname), 'view without security_invoker bypasses RLS'
    from pg_catalog.pg_class as c
    join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
   where n.nspname = any (tests.exposed_schemas())
     and c.relkind = 'v'
     and not exists (
       select from unnest(c.reloptions) as o
        where lower(o) in ('security_invoker=true', 'security_invoker=on',
                           'security_invoker=1', 'security_invoker=yes')
     )
$$;

-- tests.unordered_trigger_names() -> (trigger, problem)
-- Triggers on the app's tables, and triggers elsewhere (auth.users) that run an app function,
-- whose name does not state their firing order as <table>_<nnn>_<what>. PostgreSQL fires a
-- table's triggers for one event in name order, so the name decides what runs first
-- (docs/migrations.md, "Lock-safe DDL"). The triggers that existed before the rule are listed
-- below and pass; renaming one into the scheme takes it off the list. A partition's clone of
-- its parent's trigger is judged on the parent.
create or replace function tests.unordered_trigger_names()
returns table (trigger text, problem text)
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select pg_catalog.format('%I on %I.%I', t.tgname, n.nspname, c.relname),
         pg_catalog.format('the name does not state the firing order: %s_<nnn>_<what>', c.relname)
    from pg_catalog.pg_trigger as t
    join pg_catalog.pg_class as c on c.oid = t.tgrelid
    join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
    join pg_catalog.pg_proc as f on f.oid = t.tgfoid
   where not t.tgisinternal
     and t.tgparentid = 0
     and (n.nspname in (select tests.app_schemas())
          or f.pronamespace in (select a.oid from pg_catalog.pg_namespace as a
                                 where a.nspname in (select tests.app_schemas())))
     and not (
       pg_catalog.left(t.tgname, pg_catalog.length(c.relname) + 1) = c.relname || '_'
       and pg_catalog.substr(t.tgname, pg_catalog.length(c.relname) + 2)
           ~ '^[0-9]{3}_[a-z0-9]+(_[a-z0-9]+)*$'
     )
     and pg_catalog.format('%I.%I.%I', n.nspname, c.relname, t.tgname) <> all (array[
       'auth.users.on_auth_user_created', 'auth.users.on_auth_user_updated',
       'auth.identities.on_auth_identity_created',
       'public.users.users_check_limits', 'public.users.users_guard_auth_columns',
       'public.sessions.sessions_check_limits', 'public.sessions.sessions_guard_columns',
       'public.sessions.sessions_guard_shared_edits', 'public.sessions.sessions_record_history',
       'public.sessions.sessions_version_ir',
       'public.session_history.session_history_append_only',
       'public.repositories.repositories_check_limits',
       'public.repositories.repositories_key_belongs_to_caller',
       'public.favourite_repositories.favourite_repositories_key_belongs_to_caller',
       'public.user_preferences.user_preferences_check_limits',
       'public.user_preferences.user_preferences_key_belongs_to_caller',
       'public.user_preferences.user_preferences_touch_updated_at',
       'public.session_shares.session_shares_check', 'public.session_shares.session_shares_check_limits',
       'public.session_shares.session_shares_key_belongs_to_caller',
       'public.session_shares.session_shares_touch_updated_at',
       'public.comments.comments_check_limits', 'public.comments.comments_guard_columns',
       'public.comments.comments_touch_updated_at',
       'public.analytics_events.analytics_events_check_limits',
       'public.analytics_events.analytics_events_check_session',
       'public.session_embeddings.session_embeddings_check_limits',
       'public.session_embeddings.session_embeddings_guard',
       'public.session_embeddings.session_embeddings_key_belongs_to_caller',
       'private.column_limits.column_limits_compile'
     ])
$$;

revoke execute on all functions in schema tests from public;
grant execute on all functions in schema tests to anon, authenticated, service_role;

-- The names and signatures the guard tests call (what they do: 007_helpers_catalog_guards.sql and
-- 010_catalog_guards.sql).
begin;
select plan(15);

select has_function('tests', 'exposed_schemas', array[]::text[]);
select has_function('tests', 'app_schemas', array[]::text[]);
select has_function('tests', 'tables_without_rls', array[]::text[]);
select has_function('tests', 'policies_for_public_or_anon', array[]::text[]);
select has_function('tests', 'unindexed_foreign_keys', array[]::text[]);
select has_function('tests', 'policies_with_bare_auth_calls', array[]::text[]);
select has_function('tests', 'search_path_problem', array['text[]']);
select has_function('tests', 'unsafe_security_definer_functions', array[]::text[]);
select has_function('tests', 'unsafe_definer_reachable_functions', array[]::text[]);
select has_function('tests', 'unlimited_api_writable_columns', array[]::text[]);
select has_function('tests', 'multiple_permissive_policies', array[]::text[]);
select has_function('tests', 'always_true_write_policies', array[]::text[]);
select has_function('tests', 'anon_privileges', array[]::text[]);
select has_function('tests', 'views_bypassing_rls', array[]::text[]);
select has_function('tests', 'unordered_trigger_names', array[]::text[]);

select * from finish();
rollback;
