-- Installs pgTAP and the identity helpers every other test file uses. It sorts first, so
-- `supabase test db` (pg_prove, alphabetical) runs it before the rest; the helpers are
-- committed on purpose, outside the rolled-back test transaction below. They live in schema
-- `tests`, which the API does not expose, and never ship in a migration.
-- 999_teardown_test_helpers.sql, which sorts last, drops them again: a run leaves nothing behind.
create extension if not exists pgtap with schema extensions;

-- Start clean: a run that was cut short may have left helpers of another version behind.
drop schema if exists tests cascade;
create schema tests;
-- The tests switch to these roles and call the helpers as them; nobody else needs them.
revoke all on schema tests from public;
grant usage on schema tests to anon, authenticated, service_role;

-- A user in auth.users, as GoTrue would create it; the identifier names it in tests.
create or replace function tests.create_supabase_user(
  identifier pg_catalog.text,
  email pg_catalog.text default null,
  provider pg_catalog.text default 'email'
) returns pg_catalog.uuid
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  user_id pg_catalog.uuid := pg_catalog.gen_random_uuid();
begin
  insert into auth.users (
    id, aud, role, email, raw_app_meta_data, raw_user_meta_data, created_at, updated_at
  ) values (
    user_id,
    'authenticated',
    'authenticated',
    coalesce(email, identifier || '@test.lift-sys.dev'),
    pg_catalog.jsonb_build_object('provider', provider,
                                  'providers', pg_catalog.jsonb_build_array(provider)),
    pg_catalog.jsonb_build_object('test_identifier', identifier),
    pg_catalog.now(),
    pg_catalog.now()
  );
  return user_id;
end
$$;

create or replace function tests.get_supabase_uid(identifier pg_catalog.text)
returns pg_catalog.uuid
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select u.id
    from auth.users as u
   where u.raw_user_meta_data operator(pg_catalog.->>) 'test_identifier' = identifier
   limit 1
$$;

-- Act as a signed-in user for the rest of the transaction, the way PostgREST does per request.
create or replace function tests.authenticate_as(identifier text) returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  user_id uuid := tests.get_supabase_uid(identifier);
begin
  if user_id is null then
    raise exception 'tests.authenticate_as: no test user %', identifier;
  end if;
  perform set_config(
    'request.jwt.claims',
    jsonb_build_object('sub', user_id, 'role', 'authenticated',
                       'email', identifier || '@test.lift-sys.dev')::text,
    true
  );
  perform set_config('role', 'authenticated', true);
end
$$;

create or replace function tests.authenticate_as_anon() returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  perform set_config('request.jwt.claims', '{"role": "anon"}', true);
  perform set_config('role', 'anon', true);
end
$$;

create or replace function tests.authenticate_as_service_role() returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  perform set_config('request.jwt.claims', '{"role": "service_role"}', true);
  perform set_config('role', 'service_role', true);
end
$$;

-- Back to the session's own role (postgres) with no claims.
create or replace function tests.clear_authentication() returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  perform set_config('request.jwt.claims', '', true);
  perform set_config('role', 'none', true);
end
$$;

-- A session owned by a test user, created as the table owner whoever is acting, so that a test
-- can set the scene and then switch identity.
create or replace function tests.create_session(
  owner_identifier pg_catalog.text,
  prompt pg_catalog.text default 'Build a command-line todo app',
  ir pg_catalog.jsonb default null,
  status pg_catalog.text default 'active'
) returns pg_catalog.uuid
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  owner_id pg_catalog.uuid := tests.get_supabase_uid(owner_identifier);
  session_id pg_catalog.uuid;
begin
  if owner_id is null then
    raise exception 'tests.create_session: no test user %', owner_identifier;
  end if;
  insert into public.sessions (user_id, prompt, current_ir, status)
  values (owner_id, prompt, ir, status)
  returning id into session_id;
  return session_id;
end
$$;

-- The id of the session with this prompt, whoever is acting (tests give prompts unique names).
create or replace function tests.get_session_id(prompt pg_catalog.text)
returns pg_catalog.uuid
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select s.id from public.sessions as s where s.prompt = get_session_id.prompt
$$;

-- A digest of everything a user owns (sessions and their history), whoever is acting: equal
-- digests before and after a failed statement prove that it changed nothing.
create or replace function tests.user_data_digest(identifier pg_catalog.text)
returns pg_catalog.text
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select pg_catalog.md5(
    coalesce((select pg_catalog.jsonb_agg(pg_catalog.to_jsonb(s) order by s.id)::pg_catalog.text
                from public.sessions as s
               where s.user_id = tests.get_supabase_uid(identifier)), '[]')
    operator(pg_catalog.||)
    coalesce((select pg_catalog.jsonb_agg(pg_catalog.to_jsonb(h)
                                          order by h.session_id, h.version)::pg_catalog.text
                   from public.session_history as h
                   join public.sessions as s on s.id = h.session_id
                  where s.user_id = tests.get_supabase_uid(identifier)), '[]')
  )
$$;

-- The dimension IR embeddings have, as the embedding column's type declares it.
create or replace function tests.embedding_dimensions() returns integer
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select a.atttypmod
    from pg_catalog.pg_attribute as a
   where a.attrelid = 'public.session_embeddings'::pg_catalog.regclass
     and a.attname = 'embedding'
$$;

-- A unit embedding in the plane of the first two axes, at this angle from the first axis: its
-- cosine similarity to planar_embedding(a) is exactly cos(degrees - a), so tests know the true
-- ranking of any set of them.
create or replace function tests.planar_embedding(degrees double precision)
returns extensions.vector
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select (
    array[cosd(degrees), sind(degrees)]::real[]
    || array_fill(0::real, array[tests.embedding_dimensions() - 2])
  )::extensions.vector
$$;

-- Stores an embedding of the session with this prompt, computed from its current IR version,
-- whoever is acting (tests set the scene, then switch identity).
create or replace function tests.embed_session(
  prompt pg_catalog.text,
  embedding extensions.vector,
  model pg_catalog.text default 'test-embedding-model'
) returns void
language sql
security definer
set search_path = pg_catalog, pg_temp
as $$
  insert into public.session_embeddings (session_id, embedding, model, ir_version)
  select s.id, embed_session.embedding, embed_session.model, s.ir_version
    from public.sessions as s
   where s.prompt = embed_session.prompt
  on conflict (session_id) do update
    set embedding = excluded.embedding, model = excluded.model, ir_version = excluded.ir_version
$$;

-- Share a session with a test user, as its owner would, whoever is acting.
create or replace function tests.share_session(
  session_id pg_catalog.uuid,
  grantee_identifier pg_catalog.text,
  role pg_catalog.text default 'viewer'
) returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  grantee_id pg_catalog.uuid := tests.get_supabase_uid(grantee_identifier);
begin
  if grantee_id is null then
    raise exception 'tests.share_session: no test user %', grantee_identifier;
  end if;
  insert into public.session_shares (session_id, user_id, role)
  values (share_session.session_id, grantee_id, share_session.role);
end
$$;

-- A digest of everything around one session that collaborators write (shares, comments,
-- analytics events), whoever is acting: equal before and after proves a refused write wrote
-- nothing.
create or replace function tests.collaboration_digest(session_id pg_catalog.uuid)
returns pg_catalog.text
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select pg_catalog.md5(
    coalesce((select pg_catalog.jsonb_agg(pg_catalog.to_jsonb(sh) order by sh.user_id)::pg_catalog.text
                from public.session_shares as sh
               where sh.session_id = collaboration_digest.session_id), '[]')
    operator(pg_catalog.||)
    coalesce((select pg_catalog.jsonb_agg(pg_catalog.to_jsonb(c) order by c.id)::pg_catalog.text
                   from public.comments as c
                  where c.session_id = collaboration_digest.session_id), '[]')
    operator(pg_catalog.||)
    coalesce((select pg_catalog.jsonb_agg(pg_catalog.to_jsonb(e) order by e.id)::pg_catalog.text
                   from public.analytics_events as e
                  where e.session_id = collaboration_digest.session_id), '[]')
  )
$$;

-- The number of rows of a relation named at run time (partitions are created by the tests).
create or replace function tests.row_count(relation pg_catalog.regclass) returns bigint
language plpgsql
stable
set search_path = pg_catalog, pg_temp
as $$
declare
  n bigint;
begin
  execute format('select count(*) from %s', relation) into n;
  return n;
end
$$;

-- Catalog guards. Each returns the objects that break a rule, so that a test can assert that the
-- schema has none and also that a deliberately bad object is caught. They read the catalog, so
-- they cover tables, policies and functions that later migrations add.

-- The schemas the API serves: [api] schemas in supabase/config.toml.
create or replace function tests.exposed_schemas() returns name[]
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  select array['public', 'graphql_public']::name[]
$$;

-- Schemas the project's migrations own: everything but the system's, the platform's (they exist
-- on every Supabase project and are not ours to lint) and these helpers.
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

-- A foreign key is covered when a valid, non-partial index starts with exactly its columns.
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

-- auth.uid() & co. read a setting per call; wrapped in a select they run once per statement.
-- Every call in a policy expression must be the start of a select.
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

-- What is wrong with a function's search_path setting (null: nothing). Without pg_temp named,
-- PostgreSQL searches the caller's temporary schema FIRST for relations and types, so `''` is
-- not safe; the safe form names pg_catalog first (built-ins win) and pg_temp last.
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

-- Every SECURITY DEFINER function of the app and of these helpers: outside the exposed schemas,
-- with search_path pg_catalog first and pg_temp last.
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

-- Functions that can run as a definer's owner: every function of the app and of these helpers
-- (trigger functions run as the table owner when definer code or a cascade writes; invoker
-- functions are called from definer code), every function a policy calls, and the platform's
-- auth.* helpers that definer code calls. The app's own must set the safe search_path. A
-- platform function may set none (Supabase's auth.uid() sets none, so that it is inlined: it
-- then runs under its definer caller's safe path), but one that sets a search_path must set the
-- safe one: `set search_path = ''` would search the caller's pg_temp first again.
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

-- Every text and JSON column anon or authenticated may write (INSERT or UPDATE, column grants
-- included) needs a size cap in private.column_limits, a JSON one a depth cap too, and its table
-- the trigger that enforces them (caps of a partitioned table cover its partitions).
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

-- More than one permissive policy for a role and action: Postgres ORs them, so each one widens
-- access and every one is evaluated.
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

-- anon reaches the API without signing in: in an exposed schema it may hold no privilege on a
-- table or view (column grants included) and may execute no function.
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

-- A view runs with its owner's rights (and so past RLS) unless it is security_invoker.
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

revoke execute on all functions in schema tests from public;
grant execute on all functions in schema tests to anon, authenticated, service_role;

begin;
select plan(9);

select has_function('tests', 'create_supabase_user', array['text', 'text', 'text']);
select has_function('tests', 'authenticate_as', array['text']);

select tests.create_supabase_user('helper_probe');
select tests.authenticate_as('helper_probe');
select is(auth.uid(), tests.get_supabase_uid('helper_probe'), 'authenticate_as sets auth.uid()');
select is(current_user::text, 'authenticated', 'authenticate_as switches to authenticated');
select tests.authenticate_as_anon();
select is(auth.uid(), null, 'anon has no uid');
select tests.clear_authentication();
select is(current_user::text, 'postgres', 'clear_authentication returns to postgres');
select tests.create_session('helper_probe', 'helper probe prompt');
select is(
  (select s.user_id from public.sessions as s where s.prompt = 'helper probe prompt'),
  tests.get_supabase_uid('helper_probe'),
  'create_session makes a session owned by the named user'
);
select is(extensions.vector_dims(tests.planar_embedding(30)), 1536,
          'planar embeddings have the embedding column''s dimension');
select ok(
  abs((1 - (tests.planar_embedding(10) operator (extensions.<=>) tests.planar_embedding(70)))
      - 0.5) < 1e-6,
  'planar embeddings 60 degrees apart have cosine similarity 0.5'
);

select * from finish();
rollback;
